// Zone frames signed with the node's key and checked against the fleet CA: the signer (this node's key and
// certificate) and the authenticator (the senders' certificates, verified once and cached by key id, and each
// frame's signature and sender). `zoneSecurity.signing: required` in node.yaml; docs/consensus.md "Authorised
// twice", [FM-ZONE-SIGN-1..5] in docs/protocol.md.

import { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../kit/index.js';
import { type CertificateRefusal, importPrivateKeyPem, keyMatchesCertificate, verifyNodeCertificate, x509 } from '../../pki/index.js';
import { watchFiles } from '../../platform/index.js';
import type { ZoneConfig } from '../../protocol/consensus/types.js';
import type { ZoneFrame } from '../../protocol/consensus/zone-frames.js';
import {
  signZoneFrame,
  verifyZoneFrameSignature,
  type ZoneFrameSignature,
  type ZoneKey,
  type ZoneSignatureRefusal,
  zoneKeyId,
} from '../../protocol/consensus/zone-signature.js';

/** This node's side: its key signs every zone frame it sends. */
export interface ZoneSigner {
  readonly keyId: string;
  /** The certificate's DER, sent once on each link ([FM-ZONE-SIGN-3]). */
  readonly certificateDer: Uint8Array;
  sign(frame: Uint8Array): Promise<Uint8Array>;
}

/**
 * Loads the node's key and certificate (PEM). Throws FM_ZONE_SIGNING when the key is not the certificate's or
 * not ECDSA P-256: a node that must sign and cannot is a configuration error the operator must see.
 */
export async function createZoneSigner(o: { keyPem: string; certPem: string; keyFile: string }): Promise<ZoneSigner> {
  const cert = new x509.X509Certificate(o.certPem);
  const key = await importPrivateKeyPem(o.keyPem, o.keyFile);
  if (!keyMatchesCertificate(o.keyPem, o.certPem)) throw new Error(`${o.keyFile} is not the key of the certificate ${cert.subject}`);
  const certificateDer = new Uint8Array(cert.rawData);
  const keyId = await zoneKeyId(certificateDer);
  return { keyId, certificateDer, sign: (frame) => signZoneFrame(frame, keyId, key as ZoneKey) };
}

/** [FM-ZONE-SIGN-5] Whether the zone lists `sender` for what `frame` does. */
export function zoneListsSender(zone: ZoneConfig, frame: ZoneFrame, sender: string): boolean {
  switch (frame.type) {
    case 'vote':
      return zone.voters.includes(sender);
    case 'pumpState':
      return zone.pumps.some((p) => p.id === frame.pump && p.node === sender);
    case 'detection':
      return zone.cameras.some((c) => c.node === sender);
    case 'command':
    case 'epoch':
    case 'held':
      return zone.voters.includes(sender) || zone.cameras.some((c) => c.node === sender) || zone.pumps.some((p) => p.node === sender);
  }
}

/** What the authenticator holds of a key id: a verified certificate, or why it was refused (the DER kept to judge again). */
type KnownKey =
  | {
      readonly ok: true;
      readonly der: Uint8Array;
      readonly node: string;
      readonly publicKey: ZoneKey;
      readonly notAfter: number;
      readonly serial: string;
    }
  | {
      readonly ok: false;
      readonly der: Uint8Array;
      readonly node: string;
      readonly reason: CertificateRefusal | 'other-site';
      readonly message: string;
    };

/** Why a certificate heard was refused: src/pki's verdict, another site's, or no CA to verify with. */
export type ZoneCertificateRefusal = CertificateRefusal | 'other-site' | 'no-ca';

export interface ZoneAuthenticatorOptions {
  /** This node's site: a certificate must name it (OU). */
  readonly site: string;
  /** The fleet CA (PEM). Absent: every certificate and so every frame is refused (fail-safe), loudly. */
  readonly ca: string | undefined;
  /** The fleet CA's CRL (PEM), when given. */
  readonly crl?: string;
  /** The zones this node knows, by id. */
  readonly zones: readonly ZoneConfig[];
  readonly now: () => number;
  readonly logger: Logger;
  /** A certificate refused, by its reason (fieldmesh_zone_certificate_refused_total{reason}). */
  readonly onCertificateRefused?: (reason: ZoneCertificateRefusal) => void;
}

export type CertificateOutcome =
  | { readonly ok: true; readonly keyId: string; readonly node: string }
  | { readonly ok: false; readonly keyId: string; readonly reason: string };

/**
 * The receiving side: certificates heard from senders are verified against the fleet CA (chain, validity,
 * CRL), must have CN = the sender and OU = this site, and are cached by key id; each frame's signature is then
 * checked with the key its key id names. [FM-ZONE-SIGN-4] [FM-ZONE-SIGN-5]
 */
export class ZoneFrameAuthenticator {
  readonly #o: ZoneAuthenticatorOptions;
  readonly #zones: Map<string, ZoneConfig>;
  readonly #keys = new Map<string, KnownKey>();
  #ca: string | undefined;
  #crl: string | undefined;

  constructor(options: ZoneAuthenticatorOptions) {
    this.#o = options;
    this.#ca = options.ca;
    this.#crl = options.crl;
    this.#zones = new Map(options.zones.map((z) => [z.id, z]));
  }

  /** Whether this key id is known (verified or refused): a want for it is no longer needed. */
  knows(keyId: string): boolean {
    return this.#keys.has(keyId);
  }

  /** Verified certificates held, by node (for the status). */
  nodes(): string[] {
    return [...new Set([...this.#keys.values()].filter((k) => k.ok).map((k) => k.node))].sort();
  }

  /**
   * A certificate heard from `sender` (the topic's owner, or the datagram's claimed sender). Verified once per
   * key id; a refusal is kept too, so frames signed with that key are refused without asking again.
   */
  async addCertificate(der: Uint8Array, sender: string): Promise<CertificateOutcome> {
    const keyId = await zoneKeyId(der);
    const known = this.#keys.get(keyId);
    if (known?.ok === true && known.node === sender) return { ok: true, keyId, node: known.node };
    if (known?.ok === false && known.node === sender) return { ok: false, keyId, reason: known.reason };
    if (known?.ok === true) return this.#refuse(keyId, der, sender, 'other-node', `it is ${known.node}'s certificate, not ${sender}'s`);
    return this.#judge(keyId, der, sender);
  }

  /**
   * A new fleet CA or CRL (the files changed): every certificate held is judged again, so a revocation takes effect
   * at once (frames signed with a revoked key are refused as `unknown-certificate` from then on) and a certificate
   * refused before may now pass. [FM-ZONE-SIGN-5]
   */
  async updateTrust(trust: { readonly ca: string | undefined; readonly crl?: string | undefined }): Promise<void> {
    this.#ca = trust.ca;
    this.#crl = trust.crl;
    const held = [...this.#keys.entries()];
    this.#keys.clear();
    for (const [keyId, key] of held) await this.#judge(keyId, key.der, key.node);
  }

  #refuse(
    keyId: string,
    der: Uint8Array,
    sender: string,
    reason: CertificateRefusal | 'other-site' | 'no-ca',
    message: string,
  ): CertificateOutcome {
    // A refusal is remembered per key id only for certificates of the fleet CA or none at all; a sender that
    // merely relays another's certificate under its own name changes nothing of what that key may do.
    if (!this.#keys.has(keyId) && reason !== 'no-ca' && reason !== 'other-node')
      this.#keys.set(keyId, { ok: false, der, node: sender, reason, message });
    this.#o.onCertificateRefused?.(reason);
    this.#o.logger.warn({ sender, keyId, reason }, `zone signing: the certificate ${sender} sent is refused (${reason}): ${message}`);
    return { ok: false, keyId, reason };
  }

  /** Verifies `der` as `sender`'s certificate against the CA and CRL in use, and records the verdict. */
  async #judge(keyId: string, der: Uint8Array, sender: string): Promise<CertificateOutcome> {
    if (this.#ca === undefined)
      return this.#refuse(
        keyId,
        der,
        sender,
        'no-ca',
        'no fleet CA to verify it with (zoneSecurity.ca, pki.dir/ca.crt or mqtt.ca): every signed frame is refused',
      );
    let pem: string;
    try {
      pem = new x509.X509Certificate(der).toString('pem');
    } catch (err) {
      return this.#refuse(keyId, der, sender, 'malformed', (err as Error).message);
    }
    let verdict: Awaited<ReturnType<typeof verifyNodeCertificate>>;
    try {
      verdict = await verifyNodeCertificate(pem, {
        ca: this.#ca,
        ...(this.#crl === undefined ? {} : { crl: this.#crl }),
        now: this.#o.now(),
        expectNode: sender,
      });
    } catch (err) {
      // An unreadable CA, or a CRL the CA did not sign: this node's configuration, so nothing verifies.
      return this.#refuse(keyId, der, sender, 'no-ca', (err as Error).message);
    }
    if (!verdict.ok) return this.#refuse(keyId, der, sender, verdict.reason, verdict.message);
    if (verdict.site !== this.#o.site)
      return this.#refuse(keyId, der, sender, 'other-site', `its site (OU) is ${verdict.site ?? 'none'}, not ${this.#o.site}`);
    const cert = new x509.X509Certificate(der);
    const publicKey = (await cert.publicKey.export(webcrypto)) as ZoneKey;
    this.#keys.set(keyId, { ok: true, der, node: verdict.node, publicKey, notAfter: verdict.notAfter.getTime(), serial: verdict.serial });
    this.#o.logger.info({ node: verdict.node, keyId, serial: verdict.serial }, `zone signing: certificate of ${verdict.node} verified`);
    return { ok: true, keyId, node: verdict.node };
  }

  /**
   * [FM-ZONE-SIGN-4] Whether a frame heard from `sender` may go to the engine: undefined when it may (or when it
   * names a zone this node does not know: the engine ignores it), else the refusal. The checks, in order:
   * `unsigned`; `unknown-certificate` (key id not verified: unknown, refused, expired since); `wrong-identity`
   * (the certificate's node is not the sender, or the zone does not list the sender for this frame);
   * `bad-signature`.
   */
  async check(frame: ZoneFrame, signature: ZoneFrameSignature | undefined, sender: string): Promise<ZoneSignatureRefusal | undefined> {
    const zone = this.#zones.get(frame.type === 'vote' ? frame.vote.zone : frame.zone);
    if (zone === undefined) return undefined;
    if (signature === undefined) return 'unsigned';
    const key = this.#keys.get(signature.keyId);
    if (key === undefined || !key.ok || key.notAfter < this.#o.now()) return 'unknown-certificate';
    if (key.node !== sender || !zoneListsSender(zone, frame, sender)) return 'wrong-identity';
    if (!(await verifyZoneFrameSignature(signature, key.publicKey))) return 'bad-signature';
    return undefined;
  }
}

/** What the zone runtime needs to sign and check: both halves, set up from node.yaml's files. */
export interface ZoneSigning {
  /**
   * The signer in use (read at each frame: a renewed certificate is used from the next frame on). Undefined when
   * the node's key or certificate could not be read: it then sends unsigned frames, which others refuse.
   */
  readonly signer: ZoneSigner | undefined;
  readonly authenticator: ZoneFrameAuthenticator;
  /** Calls `listener` when the signer changed (the runtime announces the new certificate); returns the unsubscribe. */
  onSignerChanged?(listener: () => void): () => void;
  /** Re-reads the files now (done by itself when they change, with `pollMs`). */
  reload?(): Promise<void>;
  /** Stops watching the files. */
  close?(): void;
}

/** The files of `zoneSecurity` (each resolved by the caller: zoneSecurity's own, else pki.dir's, else mqtt's). */
export interface ZoneSigningFiles {
  readonly ca?: string | undefined;
  readonly crl?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

/**
 * `zoneSecurity.signing: required`: reads the node's key and certificate and the fleet CA (and CRL). Never
 * throws: a file that is missing or unreadable is logged at error level with what it costs (no CA: every
 * frame refused; no key: this node's frames refused by the others), so the node stays up and refuses rather
 * than accepts. With `pollMs`, the files are polled (src/platform's watchFiles, as a TLS listener's CRL) and
 * re-read when one changes: a new CRL revokes at once, a renewed certificate and key sign the next frame (a
 * pair that does not match yet, half written, keeps the previous in use until it does). [FM-ZONE-SIGN-5]
 */
export async function setUpZoneSigning(o: {
  readonly site: string;
  readonly zones: readonly ZoneConfig[];
  readonly files: ZoneSigningFiles;
  readonly now: () => number;
  readonly logger: Logger;
  readonly onCertificateRefused?: ZoneAuthenticatorOptions['onCertificateRefused'];
  /** Poll the files for a change every this many ms (the agent: 1 s); absent: read once. */
  readonly pollMs?: number;
}): Promise<ZoneSigning> {
  const read = (what: string, file: string | undefined, cost: string): string | undefined => {
    if (file === undefined) {
      o.logger.error({ code: 'FM_ZONE_SIGNING' }, `zone signing required and no ${what} is configured: ${cost}`);
      return undefined;
    }
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      o.logger.error(
        { code: 'FM_ZONE_SIGNING', file },
        `zone signing required and the ${what} ${file} cannot be read (${(err as Error).message}): ${cost}`,
      );
      return undefined;
    }
  };
  const CA_WHAT = 'fleet CA (zoneSecurity.ca, pki.dir/ca.crt or mqtt.ca)';
  const CERT_WHAT = 'node certificate (zoneSecurity.cert, pki.dir/<node>.crt or mqtt.cert)';
  const KEY_WHAT = 'node key (zoneSecurity.key, pki.dir/<node>.key or mqtt.key)';
  const refusedAll = 'every zone frame received is refused';
  const cost = "this node's zone frames go unsigned and every other node refuses them";
  let ca = read(CA_WHAT, o.files.ca, refusedAll);
  let crl = o.files.crl === undefined ? undefined : read('CRL', o.files.crl, refusedAll);
  // A CRL named and unreadable refuses like no CA: revocation unknown is not revocation checked.
  const trustOf = (): string | undefined => (o.files.crl !== undefined && crl === undefined ? undefined : ca);
  let certPem = read(CERT_WHAT, o.files.cert, cost);
  let keyPem = read(KEY_WHAT, o.files.key, cost);
  let signer: ZoneSigner | undefined;
  if (certPem !== undefined && keyPem !== undefined) {
    try {
      signer = await createZoneSigner({ keyPem, certPem, keyFile: o.files.key as string });
    } catch (err) {
      o.logger.error(
        { code: 'FM_ZONE_SIGNING', err: (err as Error).message },
        `zone signing required and the node's key cannot sign: ${cost}`,
      );
    }
  }
  const authenticator = new ZoneFrameAuthenticator({
    site: o.site,
    ca: trustOf(),
    ...(crl === undefined ? {} : { crl }),
    zones: o.zones,
    now: o.now,
    logger: o.logger,
    ...(o.onCertificateRefused === undefined ? {} : { onCertificateRefused: o.onCertificateRefused }),
  });
  if (signer !== undefined) o.logger.info({ keyId: signer.keyId }, 'zone signing required: zone frames are signed and checked');

  const listeners = new Set<() => void>();
  /** A re-read that fails keeps what is in use (as a TLS listener keeps its CRL), and says so. */
  const reread = (what: string, file: string | undefined, previous: string | undefined): string | undefined => {
    if (file === undefined) return previous;
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      o.logger.error(
        { code: 'FM_ZONE_SIGNING', file },
        `zone signing: the ${what} ${file} cannot be re-read (${(err as Error).message}); the previous stays in use`,
      );
      return previous;
    }
  };
  let reloading: Promise<void> = Promise.resolve();
  const reloadNow = async (): Promise<void> => {
    const nextCa = reread(CA_WHAT, o.files.ca, ca);
    const nextCrl = reread('CRL', o.files.crl, crl);
    if (nextCa !== ca || nextCrl !== crl) {
      ca = nextCa;
      crl = nextCrl;
      await authenticator.updateTrust({ ca: trustOf(), crl });
      o.logger.info(
        { ca: o.files.ca, crl: o.files.crl },
        'zone signing: fleet CA and CRL re-read; the certificates held were judged again',
      );
    }
    const nextCert = reread(CERT_WHAT, o.files.cert, certPem);
    const nextKey = reread(KEY_WHAT, o.files.key, keyPem);
    if (nextCert === undefined || nextKey === undefined || (nextCert === certPem && nextKey === keyPem)) return;
    try {
      const renewed = await createZoneSigner({ keyPem: nextKey, certPem: nextCert, keyFile: o.files.key as string });
      certPem = nextCert;
      keyPem = nextKey;
      signer = renewed;
      o.logger.info({ keyId: renewed.keyId }, 'zone signing: new certificate and key in use');
      for (const listener of listeners) listener();
    } catch (err) {
      // A renewal writes the key and the certificate one after the other: the next change completes the pair.
      o.logger.warn(
        { err: (err as Error).message },
        'zone signing: the certificate and key read do not make a pair (yet); the previous stay in use',
      );
    }
  };
  const reload = (): Promise<void> => {
    reloading = reloading.then(reloadNow, reloadNow);
    return reloading;
  };
  const watched = [o.files.ca, o.files.crl, o.files.cert, o.files.key].filter((f): f is string => f !== undefined);
  const stopWatching = o.pollMs === undefined ? () => {} : watchFiles(watched, o.pollMs, () => void reload());
  return {
    get signer() {
      return signer;
    },
    authenticator,
    onSignerChanged(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    reload,
    close: stopWatching,
  };
}

/** [FM-ZONE-SIGN-5] Where node.yaml's zone signing files are: `zoneSecurity`'s own, else `pki.dir`'s, else `mqtt`'s. */
export function zoneSigningFiles(
  config: {
    readonly zoneSecurity: {
      readonly ca?: string | undefined;
      readonly crl?: string | undefined;
      readonly cert?: string | undefined;
      readonly key?: string | undefined;
    };
    readonly pki?: { readonly dir: string } | undefined;
    readonly mqtt: { readonly ca?: string | undefined; readonly cert?: string | undefined; readonly key?: string | undefined };
  },
  node: string,
): ZoneSigningFiles {
  const dir = config.pki?.dir;
  return {
    ca: config.zoneSecurity.ca ?? (dir === undefined ? undefined : join(dir, 'ca.crt')) ?? config.mqtt.ca,
    crl: config.zoneSecurity.crl,
    cert: config.zoneSecurity.cert ?? (dir === undefined ? undefined : join(dir, `${node}.crt`)) ?? config.mqtt.cert,
    key: config.zoneSecurity.key ?? (dir === undefined ? undefined : join(dir, `${node}.key`)) ?? config.mqtt.key,
  };
}
