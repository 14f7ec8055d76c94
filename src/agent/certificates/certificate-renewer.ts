// The node's side of [FM-CERT-1..6] (node.yaml `pki`, docs/pki.md "Renewal over the fleet transport"): when its
// certificate has passed `renewAt` of its validity, or it has none, the node makes a new key (which never leaves
// it) and a CSR, publishes it on its own csr topic and asks again every `retry` until the hub answers on its own
// `_hub/cert/<site>/<node>`. An issued certificate is checked (the fleet CA, this node, this key), written next to
// the key (fsync, rename), and handed to `onRenewed` (the agent reconnects its MQTT link with it, once).

import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type Clock, describeError, type Logger, type TimerHandle } from '../../kit/index.js';
import {
  certificateInfo,
  createNodeCsr,
  keyMatchesCertificate,
  renewalDueAt,
  verifyNodeCertificate,
  writeFileAtomic,
} from '../../pki/index.js';
import {
  type CertificateAnswer,
  type CertificateRequest,
  decodeCertificateAnswer,
  encodeCertificateInUse,
  encodeCertificateRequest,
  hubCertTopic,
  nodeCsrTopic,
} from '../../protocol/index.js';
import type { Subscription, TlsCredentials, Transport, TransportMessage } from '../../transport/index.js';

/** The default fraction of its validity after which a node renews (the seed's sites: every 6 months of a year). */
export const DEFAULT_RENEW_AT = 2 / 3;

/** Where a node keeps its TLS identity: `<dir>/<node>.key` (0600), `<node>.crt`, `ca.crt`, and a request in flight. */
export function certificateFiles(dir: string, node: string) {
  return {
    key: join(dir, `${node}.key`),
    cert: join(dir, `${node}.crt`),
    ca: join(dir, 'ca.crt'),
    /** The new key of the request in flight (0600) and the request itself, kept so a restart asks again for the same. */
    nextKey: join(dir, `${node}.next.key`),
    nextCert: join(dir, `${node}.next.crt`),
    request: join(dir, `${node}.request.json`),
  };
}

/** The node's key, certificate and CA as PEM, when it has a certificate (after a crash mid-switch, finished first). */
export function readNodeCredentials(dir: string, node: string): TlsCredentials | undefined {
  const f = certificateFiles(dir, node);
  finishSwitch(dir, node);
  if (!existsSync(f.cert) || !existsSync(f.key)) return undefined;
  return {
    cert: readFileSync(f.cert, 'utf8'),
    key: readFileSync(f.key, 'utf8'),
    ...(existsSync(f.ca) ? { ca: readFileSync(f.ca, 'utf8') } : {}),
  };
}

/** A switch interrupted between its renames: the new certificate is there, its key moved or not yet. */
function finishSwitch(dir: string, node: string): void {
  const f = certificateFiles(dir, node);
  if (!existsSync(f.nextCert)) return;
  const cert = readFileSync(f.nextCert, 'utf8');
  if (existsSync(f.nextKey) && keyMatchesCertificate(readFileSync(f.nextKey, 'utf8'), cert)) renameSync(f.nextKey, f.key);
  if (existsSync(f.key) && keyMatchesCertificate(readFileSync(f.key, 'utf8'), cert)) renameSync(f.nextCert, f.cert);
  else rmSync(f.nextCert);
  fsyncDir(dir);
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface CertificateRenewerOptions {
  readonly transport: Transport;
  readonly prefix: string;
  readonly identity: { readonly site: string; readonly node: string };
  /** node.yaml `pki.dir`. */
  readonly dir: string;
  /** node.yaml `pki.renewAt`; absent: the hub's from its last answer, else 2/3. */
  readonly renewAt?: number;
  /** How often the node checks its certificate and asks again while unanswered, ms (node.yaml `pki.retry`). */
  readonly retryMs: number;
  /** DNS names and IP addresses for the CSR (node.yaml `pki.sans`). */
  readonly sans?: readonly string[];
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry?: Registry;
  /** A new certificate is on disk, checked: use it (the agent reconnects its link). */
  onRenewed(credentials: TlsCredentials): void;
}

export interface CertificateRenewer {
  /** Checks now: asks for a certificate when due (or again when a request waits). Tests call it on a manual clock. */
  check(): Promise<'requested' | 'resent' | 'not-due' | 'offline'>;
  /**
   * `fieldmesh cmd TARGET renew-cert`: a new key and CSR now, whatever the certificate's age (a request in flight
   * is replaced by the new one). The certificate follows as any renewal's.
   */
  renewNow(by: string): Promise<{ readonly requestId: string; readonly serial: string | null; readonly sent: boolean }>;
  /** [FM-CERT-7] Tells the hub the serial of the certificate in use (the agent calls it at each connection). */
  announceInUse(): Promise<string | undefined>;
  /** Takes one answer (the transport's handler calls it; tests may too). */
  accept(payload: Uint8Array): Promise<'renewed' | 'pending' | 'refused' | 'ignored' | 'invalid'>;
  /** The certificate in use: serial and validity; undefined before the first. */
  current(): { readonly serial: string; readonly notBefore: number; readonly notAfter: number; readonly dueAt: number } | undefined;
  start(): void;
  stop(): void;
}

export function createCertificateRenewer(o: CertificateRenewerOptions): CertificateRenewer {
  const logger = o.logger.child({ area: 'certificates' });
  const { site, node } = o.identity;
  const files = certificateFiles(o.dir, node);
  const answerTopic = hubCertTopic(o.prefix, site, node);
  let hubRenewAt: number | undefined;
  let timer: TimerHandle | undefined;
  let stopped = false;
  let requestedAt: number | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });

  const renewals =
    o.registry === undefined
      ? undefined
      : new Counter({
          name: 'fieldmesh_agent_certificate_renewals_total',
          help: "The node's certificate requests to the hub, by result: requested, renewed (a new certificate in use), refused (by the hub, or the certificate failed the node's checks), pending (not approved yet).",
          labelNames: ['result'] as const,
          registers: [o.registry],
        });
  for (const result of ['requested', 'renewed', 'refused', 'pending']) renewals?.inc({ result }, 0);
  if (o.registry !== undefined) {
    new Gauge({
      name: 'fieldmesh_agent_certificate_expiry_seconds',
      help: "Seconds until the node's certificate expires (absent before its first).",
      registers: [o.registry],
      collect() {
        this.reset();
        const c = current();
        if (c !== undefined) this.set((c.notAfter - o.clock.now()) / 1_000);
      },
    });
  }

  const renewAt = () => o.renewAt ?? hubRenewAt ?? DEFAULT_RENEW_AT;

  function current(): ReturnType<CertificateRenewer['current']> {
    if (!existsSync(files.cert)) return undefined;
    try {
      const info = certificateInfo(readFileSync(files.cert, 'utf8'), files.cert);
      return { serial: info.serial, notBefore: info.notBefore, notAfter: info.notAfter, dueAt: renewalDueAt(info, renewAt()) };
    } catch (err) {
      logger.warn({ file: files.cert, err: describeError(err) }, `certificates: ${describeError(err)}; asking for a new one`);
      return undefined;
    }
  }

  function pendingRequest(): CertificateRequest | undefined {
    if (!existsSync(files.request) || !existsSync(files.nextKey)) return undefined;
    try {
      return JSON.parse(readFileSync(files.request, 'utf8')) as CertificateRequest;
    } catch {
      return undefined;
    }
  }

  async function send(request: CertificateRequest): Promise<boolean> {
    try {
      await o.transport.publish(nodeCsrTopic(o.prefix, site, node), encodeCertificateRequest(request), { qos: 1 });
      requestedAt = o.clock.now();
      return true;
    } catch (err) {
      logger.debug({ err: describeError(err) }, 'certificates: request not sent; again at the next check');
      return false;
    }
  }

  async function check(): Promise<'requested' | 'resent' | 'not-due' | 'offline'> {
    if (!o.transport.connected) return 'offline';
    const waiting = pendingRequest();
    if (waiting !== undefined) {
      if (requestedAt !== undefined && o.clock.now() - requestedAt < o.retryMs) return 'not-due';
      return (await send(waiting)) ? 'resent' : 'offline';
    }
    const c = current();
    if (c !== undefined && o.clock.now() < c.dueAt) return 'not-due';
    return (await makeRequest(c, undefined)).sent ? 'requested' : 'offline';
  }

  /** [FM-CERT-1] A new key for every request: the key never leaves the node. */
  async function makeRequest(
    c: ReturnType<typeof current>,
    by: string | undefined,
  ): Promise<{ readonly requestId: string; readonly sent: boolean }> {
    const { keyPem, csrPem } = await createNodeCsr({ node, site, ...(o.sans === undefined ? {} : { sans: o.sans }) });
    const request: CertificateRequest = { requestId: `${o.clock.now().toString(36)}-${randomBytes(4).toString('hex')}`, csr: csrPem };
    writeFileAtomic(files.nextKey, keyPem, { mode: 0o600 });
    writeFileAtomic(files.request, `${JSON.stringify(request)}\n`);
    renewals?.inc({ result: 'requested' });
    logger.info(
      { requestId: request.requestId, serial: c?.serial, notAfter: c === undefined ? undefined : new Date(c.notAfter).toISOString() },
      by !== undefined
        ? `certificates: renewal asked by ${by} (renew-cert); asking the hub for a new certificate`
        : c === undefined
          ? 'certificates: no certificate yet; asking the hub for one'
          : `certificates: ${Math.round(renewAt() * 100)} % of the validity passed; asking the hub for a new certificate`,
    );
    const sent = o.transport.connected && (await send(request));
    return { requestId: request.requestId, sent };
  }

  async function renewNow(by: string): Promise<{ readonly requestId: string; readonly serial: string | null; readonly sent: boolean }> {
    const c = current();
    const r = await makeRequest(c, by);
    return { ...r, serial: c?.serial ?? null };
  }

  async function announceInUse(): Promise<string | undefined> {
    const c = current();
    if (c === undefined || !o.transport.connected) return undefined;
    try {
      await o.transport.publish(nodeCsrTopic(o.prefix, site, node), encodeCertificateInUse({ inUse: c.serial }), { qos: 1 });
      return c.serial;
    } catch (err) {
      logger.debug({ err: describeError(err) }, 'certificates: certificate in use not announced; again at the next connection');
      return undefined;
    }
  }

  async function accept(payload: Uint8Array): Promise<'renewed' | 'pending' | 'refused' | 'ignored' | 'invalid'> {
    if (payload.byteLength === 0) return 'ignored';
    let answer: CertificateAnswer;
    try {
      answer = decodeCertificateAnswer(payload);
    } catch (err) {
      logger.warn({ topic: answerTopic, err: describeError(err) }, `certificates: ${describeError(err)}`);
      return 'invalid';
    }
    const waiting = pendingRequest();
    // An answer to another request (a retained one replayed after it was used): nothing to do.
    if (waiting === undefined || waiting.requestId !== answer.requestId) return 'ignored';
    if (answer.status === 'pending') {
      renewals?.inc({ result: 'pending' });
      logger.info({ requestId: answer.requestId }, 'certificates: the hub keeps the request until an admin approves this node');
      return 'pending';
    }
    if (answer.status === 'refused') {
      renewals?.inc({ result: 'refused' });
      logger.warn(
        { requestId: answer.requestId, code: answer.code },
        `certificates: the hub refused the request: ${answer.message}; a new one at the next check`,
      );
      rmSync(files.request, { force: true });
      return 'refused';
    }
    // [FM-CERT-6] Checked before anything is replaced: the fleet CA (the one the node holds, when it holds one),
    // this node's name, the new key.
    const nextKey = readFileSync(files.nextKey, 'utf8');
    const heldCa = existsSync(files.ca) ? readFileSync(files.ca, 'utf8') : undefined;
    const refuse = (why: string) => {
      renewals?.inc({ result: 'refused' });
      logger.warn({ requestId: answer.requestId, serial: answer.serial }, `certificates: the certificate from the hub is refused: ${why}`);
      rmSync(files.request, { force: true });
      return 'refused' as const;
    };
    if (heldCa !== undefined && heldCa.trim() !== answer.ca.trim()) return refuse(`it comes with another CA than ${files.ca}`);
    const verdict = await verifyNodeCertificate(answer.certificate, { ca: answer.ca, now: o.clock.now(), expectNode: node });
    if (!verdict.ok) return refuse(`${verdict.reason}: ${verdict.message}`);
    if (!keyMatchesCertificate(nextKey, answer.certificate)) return refuse('it is not for the key this node made');
    // Certificate first, then the key, then the certificate in place (finishSwitch completes a crash in between).
    writeFileAtomic(files.nextCert, answer.certificate);
    renameSync(files.nextKey, files.key);
    renameSync(files.nextCert, files.cert);
    fsyncDir(o.dir);
    if (heldCa === undefined) writeFileAtomic(files.ca, answer.ca);
    rmSync(files.request, { force: true });
    if (answer.renewAt !== undefined) hubRenewAt = answer.renewAt;
    renewals?.inc({ result: 'renewed' });
    logger.info(
      { serial: answer.serial, notAfter: new Date(answer.notAfter).toISOString() },
      `certificates: new certificate ${answer.serial} valid until ${new Date(answer.notAfter).toISOString()} in ${files.cert}; reconnecting with it`,
    );
    o.onRenewed({ cert: answer.certificate, key: nextKey, ca: answer.ca });
    return 'renewed';
  }

  /** Checks and answers run one at a time, in arrival order (an answer may come before the request's PUBACK). */
  function guarded<T>(fn: () => Promise<T>, fallback: T): Promise<T> {
    const run = queue.then(fn).catch((err: unknown) => {
      logger.warn({ err: describeError(err) }, `certificates: ${describeError(err)}`);
      return fallback;
    });
    queue = run.catch(() => {});
    return run;
  }

  const onMessage = (m: TransportMessage): void => {
    void guarded(() => accept(m.payload), 'ignored' as const);
  };
  let subscription: Subscription | undefined;
  const onConnected = (): void => {
    // [FM-CERT-7] First the serial this connection uses (after a renewal, the new one: the hub revokes the older).
    void guarded(announceInUse, undefined);
    void guarded(check, 'offline' as const);
  };
  function schedule(): void {
    timer = o.clock.setTimeout(() => {
      if (stopped) return;
      schedule();
      void guarded(check, 'offline' as const);
    }, o.retryMs);
  }

  return {
    check: () => guarded(check, 'offline'),
    renewNow(by) {
      // In the queue like a check, but a failure is the command's to report.
      const run = queue.then(() => renewNow(by));
      queue = run.catch(() => {});
      return run;
    },
    announceInUse: () => guarded(announceInUse, undefined),
    accept: (payload) => guarded(() => accept(payload), 'ignored'),
    current,
    start() {
      finishSwitch(o.dir, node);
      o.transport.on('connected', onConnected);
      subscription = o.transport.subscribe(answerTopic, onMessage);
      subscription.ready.catch((err: unknown) =>
        logger.warn({ topic: answerTopic, err: describeError(err) }, 'certificates: subscribing failed'),
      );
      schedule();
      if (o.transport.connected) onConnected();
    },
    stop() {
      stopped = true;
      if (timer !== undefined) o.clock.clearTimeout(timer);
      subscription?.unsubscribe();
      o.transport.off('connected', onConnected);
    },
  };
}
