// The hub as the fleet's online signer (hub.yaml `pki`, docs/pki.md "Renewal over the fleet transport"): it takes
// the CSRs nodes publish on their own `<prefix>/<site>/<node>/csr` [FM-CERT-1], checks that the CSR names that node
// and site [FM-CERT-2] and that the node is admitted, signs it with the fleet CA (src/pki) and answers retained on
// `<prefix>/_hub/cert/<site>/<node>` [FM-CERT-3]. A pending node's request is kept and signed at its approval
// [FM-CERT-5]. It also knows each node's certificate from the CA's index: its expiry (the metric and the built-in
// alerts) and its state (valid, expired, revoked) for the nodes API.
// [FM-CERT-7] Once a node says which certificate its link uses (a message on its csr topic, sent at every
// connection), its older certificates are revoked as superseded after `pki.revokeSupersededAfter`, and a new CRL
// written. Pending requests are kept in `<pki.dir>/pending-csrs.json` so that a hub restart keeps them.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type Clock, describeError, FieldmeshError, isFieldmeshError, type Logger, type TimerHandle } from '../../kit/index.js';
import { type CertificateIndex, type FleetCa, readCsrSubject, readIndex, writeFileAtomic } from '../../pki/index.js';
import {
  type CertificateAnswer,
  type CertificateInUse,
  type CertificateRequest,
  decodeCertificateRequest,
  encodeCertificateAnswer,
  hubCertTopic,
  type NodeCertificateState,
} from '../../protocol/index.js';
import type { Transport } from '../../transport/index.js';

/** One node's newest certificate of state valid in the CA's index (the one expiry is watched on). */
export interface NodeCertificate {
  readonly site: string;
  readonly node: string;
  readonly serial: string;
  /** ms since the Unix epoch. */
  readonly notAfter: number;
}

export type CsrOutcome = 'issued' | 'pending' | 'refused' | 'invalid' | 'resent' | 'in-use';

/**
 * [FM-CERT-7] What a node's certificate in use led to: `current` (nothing older in force), `scheduled` (the older
 * ones go after the grace), `revoked` (gone now: grace 0), `kept` (`never`), `unknown` (not this node's
 * certificate in force: ignored).
 */
export type InUseOutcome = 'current' | 'scheduled' | 'revoked' | 'kept' | 'unknown';

/** Default hub.yaml `pki.revokeSupersededAfter`: an hour after the node reconnected with its new certificate. */
export const DEFAULT_REVOKE_SUPERSEDED_AFTER_MS = 3_600_000;

export interface CertificateSignerOptions {
  readonly ca: FleetCa;
  readonly prefix: string;
  /** Validity of the certificates signed, ms (hub.yaml `pki.nodeCertDays`). */
  readonly validityMs: number;
  /** The fraction of its validity after which a node renews (hub.yaml `pki.renewAt`), told to nodes in each answer. */
  readonly renewAt: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /**
   * [FM-CERT-7] hub.yaml `pki.revokeSupersededAfter`: how long after a node proved it uses its new certificate its
   * older ones are revoked as superseded, ms; 0 at once; null never (default DEFAULT_REVOKE_SUPERSEDED_AFTER_MS).
   */
  readonly revokeSupersededAfterMs?: number | null;
  /** Where pending requests are kept across restarts (`<pki.dir>/pending-csrs.json`); absent: memory only. */
  readonly pendingFile?: string;
  /** One audit entry (the hub's audit log, route `pki-revoke-superseded`): what was revoked, and whether it was. */
  readonly audit?: (target: string, result: 'ok' | 'failed') => void;
  readonly registry?: Registry;
  readonly transport: () => Transport | undefined;
  /** Whether the node is admitted (registration). */
  isApproved(site: string, node: string): boolean;
}

const key = (site: string, node: string) => `${site}/${node}`;

export class CertificateSigner {
  readonly #o: CertificateSignerOptions;
  readonly #logger: Logger;
  /** [FM-CERT-5] Requests of nodes not approved yet, signed at approval. */
  readonly #pending = new Map<string, { site: string; node: string; request: CertificateRequest }>();
  /** The last answer per node, so a node's retry of the same request gets it again without a second signature. */
  readonly #answers = new Map<string, CertificateAnswer>();
  /** Answers not published yet (the hub off the broker): published at the next connection. */
  readonly #owed = new Set<string>();
  readonly #requests: Counter<'result'> | undefined;
  readonly #superseded: Counter | undefined;
  /** [FM-CERT-7] Revocations waiting for their grace, per node. */
  readonly #revocations = new Map<string, TimerHandle>();
  #indexCache: { ino: number; mtimeMs: number; size: number; certificates: CertificateIndex['certificates'] } | undefined;

  constructor(o: CertificateSignerOptions) {
    this.#o = o;
    this.#logger = o.logger.child({ area: 'certificates' });
    this.#loadPending();
    if (o.registry !== undefined) {
      this.#requests = new Counter({
        name: 'fieldmesh_hub_certificate_requests_total',
        help: 'Certificate requests (CSRs) from nodes over the fleet transport, by result: issued, pending (node not approved yet), refused (wrong node or site, or the CA refused), invalid (unreadable), resent (a retry answered again).',
        labelNames: ['result'] as const,
        registers: [o.registry],
      });
      for (const result of ['issued', 'pending', 'refused', 'invalid', 'resent']) this.#requests.inc({ result }, 0);
      this.#superseded = new Counter({
        name: 'fieldmesh_hub_certificates_superseded_total',
        help: 'Node certificates the hub revoked as superseded once the node used its renewed one (hub.yaml pki.revokeSupersededAfter).',
        registers: [o.registry],
      });
      const signer = this;
      new Gauge({
        name: 'fieldmesh_node_certificate_expiry_seconds',
        help: "Seconds until the node's newest valid certificate of the fleet CA expires (negative once expired), from the CA's index.",
        labelNames: ['site', 'node'] as const,
        registers: [o.registry],
        collect() {
          this.reset();
          const now = signer.#o.clock.now();
          for (const c of signer.certificates()) this.set({ site: c.site, node: c.node }, (c.notAfter - now) / 1_000);
        },
      });
    }
  }

  /** Every node's newest certificate of state valid (expired ones included), from the CA's index. */
  certificates(): NodeCertificate[] {
    const latest = new Map<string, NodeCertificate>();
    for (const c of this.#index()) {
      if (c.state !== 'valid') continue;
      // The index is append-only: a later entry is newer.
      latest.set(`${c.site}/${c.node}`, { site: c.site, node: c.node, serial: c.serial, notAfter: Date.parse(c.notAfter) });
    }
    return [...latest.values()];
  }

  /** The state of a node's certificate for the nodes API; null when the CA never issued it one. */
  stateOf(site: string, node: string): NodeCertificateState | null {
    const now = this.#o.clock.now();
    const mine = this.#index().filter((c) => c.node === node && c.site === site);
    if (mine.length === 0) return null;
    if (mine.some((c) => c.state === 'valid' && Date.parse(c.notAfter) > now)) return 'valid';
    const newest = mine[mine.length - 1];
    return newest?.state === 'revoked' ? 'revoked' : 'expired';
  }

  /** [FM-CERT-1..3] One message on a node's csr topic, decoded by the hub's frame router. */
  async receive(site: string, node: string, message: CertificateRequest | CertificateInUse): Promise<CsrOutcome> {
    if ('inUse' in message) {
      await this.inUse(site, node, message.inUse);
      return 'in-use';
    }
    const request = message;
    const k = key(site, node);
    const last = this.#answers.get(k);
    if (last !== undefined && last.requestId === request.requestId && last.status !== 'pending') {
      this.#requests?.inc({ result: 'resent' });
      await this.#publish(site, node, last);
      return 'resent';
    }
    // [FM-CERT-2] The CSR names the node and the site of the topic it came on (which the broker lets only that node write).
    let subject: ReturnType<typeof readCsrSubject>;
    try {
      subject = readCsrSubject(request.csr, `the CSR of ${k}`);
    } catch (err) {
      return this.#refuse(site, node, request, err);
    }
    if (subject.node !== node || subject.site !== site) {
      return this.#refuse(
        site,
        node,
        request,
        new FieldmeshError(
          'FM_PKI_REFUSED',
          `the CSR sent on ${k}'s topic is for CN "${subject.node ?? '(none)'}" OU "${subject.site ?? '(none)'}"; a node asks only for its own certificate`,
        ),
      );
    }
    if (!this.#o.isApproved(site, node)) {
      // [FM-CERT-5] Kept (the newest wins) and signed when an admin approves the node.
      this.#pending.set(k, { site, node, request });
      this.#savePending();
      this.#requests?.inc({ result: 'pending' });
      this.#logger.info(
        { site, node, requestId: request.requestId },
        `certificates: ${k} is not approved; its request waits for the approval`,
      );
      await this.#answer(site, node, { requestId: request.requestId, status: 'pending' });
      return 'pending';
    }
    return this.#sign(site, node, request);
  }

  /** A message on a node's csr topic that does not decode (the frame router's refusal): counted as invalid. */
  unreadable(site: string, node: string, why: string): CsrOutcome {
    this.#requests?.inc({ result: 'invalid' });
    this.#logger.warn({ site, node, err: why }, `certificates: request from ${key(site, node)} refused: ${why}`);
    return 'invalid';
  }

  /** [FM-CERT-5] The node was approved: a request it sent while pending is signed now. */
  async approved(site: string, node: string): Promise<CsrOutcome | undefined> {
    const k = key(site, node);
    const waiting = this.#pending.get(k);
    if (waiting === undefined) return undefined;
    this.#pending.delete(k);
    this.#savePending();
    // Approved under another site (an assignment): the node asks again under its new identity.
    if (!this.#o.isApproved(site, node)) return undefined;
    return this.#sign(site, node, waiting.request);
  }

  /**
   * [FM-CERT-7] The node's link uses certificate `serial`: its older certificates in force are revoked as
   * superseded after the grace (a newer report restarts it).
   */
  async inUse(site: string, node: string, serial: string): Promise<InUseOutcome> {
    const k = key(site, node);
    const index = this.#index();
    const at = index.findIndex((c) => c.serial === serial);
    const used = index[at];
    if (used === undefined || used.node !== node || used.site !== site || used.state !== 'valid') {
      this.#logger.warn(
        { site, node, serial },
        `certificates: ${k} says it uses certificate ${serial}, which is not one of its certificates in force; ignored`,
      );
      return 'unknown';
    }
    // The index is append-only: the entries before are older.
    const older = index.slice(0, at).filter((c) => c.node === node && c.state === 'valid');
    if (older.length === 0) return 'current';
    const grace = this.#o.revokeSupersededAfterMs === undefined ? DEFAULT_REVOKE_SUPERSEDED_AFTER_MS : this.#o.revokeSupersededAfterMs;
    if (grace === null) return 'kept';
    const previous = this.#revocations.get(k);
    if (previous !== undefined) this.#o.clock.clearTimeout(previous);
    this.#revocations.delete(k);
    if (grace === 0) {
      await this.#revokeOlder(site, node, serial);
      return 'revoked';
    }
    this.#logger.info(
      { site, node, serial, older: older.map((c) => c.serial), graceMs: grace },
      `certificates: ${k} uses its new certificate ${serial}; ${older.map((c) => c.serial).join(', ')} revoked as superseded in ${Math.round(grace / 1_000)} s`,
    );
    this.#revocations.set(
      k,
      this.#o.clock.setTimeout(() => {
        this.#revocations.delete(k);
        void this.#revokeOlder(site, node, serial);
      }, grace),
    );
    return 'scheduled';
  }

  /** Stops the revocations waiting for their grace (the node's next connection schedules them again). */
  stop(): void {
    for (const t of this.#revocations.values()) this.#o.clock.clearTimeout(t);
    this.#revocations.clear();
  }

  async #revokeOlder(site: string, node: string, serial: string): Promise<void> {
    const k = key(site, node);
    const index = this.#index();
    const at = index.findIndex((c) => c.serial === serial);
    if (at < 0 || index[at]?.state !== 'valid') return;
    for (const c of index.slice(0, at)) {
      if (c.node !== node || c.state !== 'valid') continue;
      try {
        const { crl } = await this.#o.ca.revoke(c.serial, 'superseded');
        this.#superseded?.inc();
        this.#logger.info(
          { site, node, serial: c.serial, inUse: serial, crl: crl.number },
          `certificates: revoked ${k}'s certificate ${c.serial} as superseded by ${serial}; CRL ${crl.number} written`,
        );
        this.#o.audit?.(`${k} certificate ${c.serial} superseded by ${serial}`, 'ok');
      } catch (err) {
        this.#logger.warn(
          { site, node, serial: c.serial, err: describeError(err) },
          `certificates: ${k}'s superseded certificate ${c.serial} not revoked: ${describeError(err)}`,
        );
        this.#o.audit?.(`${k} certificate ${c.serial} superseded by ${serial}`, 'failed');
      }
    }
  }

  #loadPending(): void {
    const file = this.#o.pendingFile;
    if (file === undefined || !existsSync(file)) return;
    try {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown; requests?: unknown };
      if (saved.version !== 1 || !Array.isArray(saved.requests)) throw new Error('expected {"version": 1, "requests": [...]}');
      for (const r of saved.requests as { site?: unknown; node?: unknown; request?: unknown }[]) {
        if (typeof r.site !== 'string' || typeof r.node !== 'string') throw new Error('a request without site or node');
        const request = decodeCertificateRequest(new TextEncoder().encode(JSON.stringify(r.request)));
        this.#pending.set(key(r.site, r.node), { site: r.site, node: r.node, request });
      }
      if (this.#pending.size > 0)
        this.#logger.info(
          { file, pending: this.#pending.size },
          `certificates: ${this.#pending.size} pending requests reloaded from ${file}`,
        );
    } catch (err) {
      this.#logger.warn(
        { file, err: describeError(err) },
        `certificates: ${file} cannot be read: ${describeError(err)}; pending requests wait for the nodes' next retry`,
      );
    }
  }

  #savePending(): void {
    const file = this.#o.pendingFile;
    if (file === undefined) return;
    try {
      writeFileAtomic(file, `${JSON.stringify({ version: 1, requests: [...this.#pending.values()] }, null, 2)}\n`, { mode: 0o600 });
    } catch (err) {
      this.#logger.warn({ file, err: describeError(err) }, `certificates: ${file} not written: ${describeError(err)}`);
    }
  }

  /** The hub (re)connected: publishes the answers owed. */
  connected(): void {
    for (const k of [...this.#owed]) {
      const answer = this.#answers.get(k);
      const [site, node] = k.split('/') as [string, string];
      if (answer !== undefined) void this.#publish(site, node, answer);
    }
  }

  async #sign(site: string, node: string, request: CertificateRequest): Promise<CsrOutcome> {
    const { ca } = this.#o;
    const source = `the CSR of ${key(site, node)}`;
    try {
      // A node holding a certificate in force renews it (overlapping validity); one without gets its first.
      const inForce = ca.list().some((c) => c.node === node && c.state === 'valid');
      const result = inForce
        ? await ca.renew(node, { csrPem: request.csr, source, validityMs: this.#o.validityMs })
        : await ca.sign(request.csr, { node, site, source, validityMs: this.#o.validityMs });
      this.#requests?.inc({ result: 'issued' });
      this.#logger.info(
        { site, node, serial: result.record.serial, notAfter: result.record.notAfter, renewed: inForce },
        `certificates: ${inForce ? 'renewed' : 'issued'} ${key(site, node)}'s certificate ${result.record.serial} valid until ${result.record.notAfter}`,
      );
      await this.#answer(site, node, {
        requestId: request.requestId,
        status: 'issued',
        certificate: result.certificatePem,
        ca: ca.certificatePem,
        serial: result.record.serial,
        notAfter: Date.parse(result.record.notAfter),
        renewAt: this.#o.renewAt,
      });
      return 'issued';
    } catch (err) {
      return this.#refuse(site, node, request, err);
    }
  }

  async #refuse(site: string, node: string, request: CertificateRequest, err: unknown): Promise<CsrOutcome> {
    this.#requests?.inc({ result: 'refused' });
    const code = isFieldmeshError(err) ? err.code : 'FM_PKI_REFUSED';
    this.#logger.warn(
      { site, node, requestId: request.requestId, code, err: describeError(err) },
      `certificates: request of ${key(site, node)} refused: ${describeError(err)}`,
    );
    await this.#answer(site, node, { requestId: request.requestId, status: 'refused', code, message: describeError(err) });
    return 'refused';
  }

  async #answer(site: string, node: string, answer: CertificateAnswer): Promise<void> {
    this.#answers.set(key(site, node), answer);
    await this.#publish(site, node, answer);
  }

  async #publish(site: string, node: string, answer: CertificateAnswer): Promise<void> {
    const k = key(site, node);
    const transport = this.#o.transport();
    this.#owed.add(k);
    if (transport === undefined || !transport.connected) return;
    try {
      // [FM-CERT-3] Retained: a node that subscribes after the answer went out still gets it.
      await transport.publish(hubCertTopic(this.#o.prefix, site, node), encodeCertificateAnswer(answer), { qos: 1, retain: true });
      this.#owed.delete(k);
    } catch (err) {
      this.#logger.warn(
        { site, node, err: describeError(err) },
        `certificates: answer to ${k} not published; again at the next connection`,
      );
    }
  }

  /**
   * The CA's index, read again only when the file changed (this hub signs and revokes, an admin runs `fieldmesh
   * pki`): the nodes API asks it once per node.
   */
  #index(): CertificateIndex['certificates'] {
    try {
      const file = this.#o.ca.indexFile;
      // Written by rename (writeFileAtomic): a new version is a new inode.
      const { ino, mtimeMs, size } = statSync(file);
      const held = this.#indexCache;
      if (held !== undefined && held.ino === ino && held.mtimeMs === mtimeMs && held.size === size) return held.certificates;
      const { certificates } = readIndex(file);
      this.#indexCache = { ino, mtimeMs, size, certificates };
      return certificates;
    } catch (err) {
      this.#logger.warn({ err: describeError(err) }, `certificates: the CA's index cannot be read: ${describeError(err)}`);
      return [];
    }
  }
}
