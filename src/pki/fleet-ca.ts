// The fleet CA: one self-signed ECDSA P-256 CA per fleet, kept in a PKI folder, that issues node certificates
// (CN node id, O fleet, OU site), renews them with overlapping validity, revokes them and signs the CRL.
// docs/pki.md.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import { type Clock, FieldmeshError, systemClock } from '../kit/index.js';
import { writeFileAtomic } from './atomic-file.js';
import {
  type CertificateIndex,
  type CertificateListing,
  emptyIndex,
  type IssuedCertificate,
  listCertificates,
  readIndex,
  validCertificatesOf,
  validStateCertificatesOf,
  writeIndex,
} from './cert-index.js';
import { describeKey, exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem, isP256 } from './keys.js';
import {
  assertDays,
  assertFleetName,
  assertId,
  CA_CERT_DAYS,
  CRL_DAYS,
  canonicalSerial,
  caSubject,
  DAY_MS,
  formatSan,
  isSerial,
  NODE_CERT_DAYS,
  NOT_BEFORE_BACKDATE_MS,
  nameField,
  nodeSubject,
  parseSans,
  randomSerial,
  type SubjectAltName,
  sansOf,
} from './names.js';
import { PKI_FILES, type PkiConfig, readPkiConfig, writePkiConfig } from './pki-config.js';
import { type CryptoKey, ECDSA_SHA256, toPem, x509 } from './x509.js';

/** RFC 5280 revocation reasons a fleet uses (certificateHold and removeFromCRL are left out: a hold is undone). */
export const REVOCATION_REASONS = {
  unspecified: x509.X509CrlReason.unspecified,
  keyCompromise: x509.X509CrlReason.keyCompromise,
  cACompromise: x509.X509CrlReason.cACompromise,
  affiliationChanged: x509.X509CrlReason.affiliationChanged,
  superseded: x509.X509CrlReason.superseded,
  cessationOfOperation: x509.X509CrlReason.cessationOfOperation,
  privilegeWithdrawn: x509.X509CrlReason.privilegeWithdrawn,
} as const;

export type RevocationReason = keyof typeof REVOCATION_REASONS;

/** Reads a reason as RFC 5280 names it (`keyCompromise`) or in kebab case (`key-compromise`). */
export function parseRevocationReason(value: string): RevocationReason {
  const key = value.toLowerCase().replace(/[-_\s]/g, '');
  const found = (Object.keys(REVOCATION_REASONS) as RevocationReason[]).find((r) => r.toLowerCase() === key);
  if (found === undefined) {
    const names = Object.keys(REVOCATION_REASONS).map((r) => r.replace(/^cA/, 'ca').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
    throw new FieldmeshError('FM_PKI_INVALID', `--reason "${value}" is not one of ${names.join(', ')}`, { details: { reason: value } });
  }
  return found;
}

export interface InitCaOptions {
  /** The PKI folder (created; must not hold a CA yet). */
  readonly dir: string;
  /** The fleet's name: the CA's O and CN, and the O of every node certificate. */
  readonly fleet: string;
  /** Validity of the CA certificate in days (default 3650). */
  readonly days?: number;
  /** Keep ca.key in this folder instead of the PKI folder (removable media, kept offline). */
  readonly keyDir?: string;
  /** Encrypt ca.key with this passphrase (PKCS#8, AES-256-CBC). */
  readonly passphrase?: string;
  /** Days from each CRL to its nextUpdate (default 30). */
  readonly crlDays?: number;
  readonly clock?: Clock;
}

export interface OpenCaOptions {
  readonly dir: string;
  /** Where ca.key is now, when it lives elsewhere than pki.json says (a key stick mounted at another path). */
  readonly keyDir?: string;
  readonly passphrase?: string;
  readonly clock?: Clock;
}

export interface IssueOptions {
  readonly site: string;
  readonly sans?: readonly string[];
  /** Validity in days (default 365). */
  readonly days?: number;
}

/** A certificate the CA just issued. */
export interface IssueResult {
  readonly record: IssuedCertificate;
  readonly certificatePem: string;
  /** Absolute path of the CA's copy, `<dir>/certs/<serial>.crt`. */
  readonly certificateFile: string;
}

/** `issue`: what was written for a node whose key the CA made. */
export interface IssuedNodeFiles extends IssueResult {
  readonly keyFile: string;
  readonly certFile: string;
  readonly caFile: string;
}

export interface CrlInfo {
  readonly pem: string;
  readonly file: string;
  readonly number: number;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly entries: number;
}

/** A CSR read and checked: its signature, key type and SANs; the node id it names. */
interface CheckedCsr {
  readonly csr: x509.Pkcs10CertificateRequest;
  readonly commonName: string | undefined;
  readonly site: string | undefined;
  readonly sans: SubjectAltName[];
}

/** Creates the fleet CA in `dir`: ca.crt, ca.key (0600, in `keyDir` when given), pki.json, index.json and a first CRL. */
export async function initFleetCa(options: InitCaOptions): Promise<FleetCa> {
  const clock = options.clock ?? systemClock;
  const dir = resolve(options.dir);
  const fleet = assertFleetName(options.fleet);
  const days = assertDays(options.days ?? CA_CERT_DAYS);
  const crlDays = assertDays(options.crlDays ?? CRL_DAYS, '--crl-days');
  const keyDir = options.keyDir === undefined ? undefined : resolve(options.keyDir);
  if (options.passphrase !== undefined && options.passphrase.length < 4) {
    throw new FieldmeshError('FM_PKI_INVALID', 'the CA key passphrase must be at least 4 characters');
  }
  for (const taken of [join(dir, PKI_FILES.config), join(dir, PKI_FILES.caCert), join(keyDir ?? dir, PKI_FILES.caKey)]) {
    if (existsSync(taken))
      throw new FieldmeshError('FM_PKI_REFUSED', `${taken} exists already: ${dir} holds a CA (or its key); nothing was changed`);
  }
  mkdirSync(dir, { recursive: true });
  if (keyDir !== undefined) mkdirSync(keyDir, { recursive: true, mode: 0o700 });

  const now = clock.now();
  const keys = await generateKeyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: caSubject(fleet),
    notBefore: new Date(now - NOT_BEFORE_BACKDATE_MS),
    notAfter: new Date(now + days * DAY_MS),
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      // CA:true with pathlen 0: this CA signs node certificates, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  writeFileAtomic(join(keyDir ?? dir, PKI_FILES.caKey), await exportPrivateKeyPem(keys.privateKey, options.passphrase), { mode: 0o600 });
  writeFileAtomic(join(dir, PKI_FILES.caCert), certificate.toString('pem').trim().concat('\n'));
  writeIndex(join(dir, PKI_FILES.index), emptyIndex());
  const config: PkiConfig = {
    version: 1,
    fleet,
    createdAt: new Date(now).toISOString(),
    keyDir: keyDir ?? null,
    keyEncrypted: options.passphrase !== undefined,
    crlNumber: 0,
    crlDays,
  };
  writePkiConfig(dir, config);
  const ca = new FleetCa(dir, config, certificate, clock, keyDir, options.passphrase);
  ca.useKey(keys.privateKey);
  await ca.refreshCrl();
  return ca;
}

/** Opens the fleet CA of `dir` (reads pki.json and ca.crt; the key is read only when something is signed). */
export function openFleetCa(options: OpenCaOptions): FleetCa {
  const dir = resolve(options.dir);
  const config = readPkiConfig(dir);
  const certFile = join(dir, PKI_FILES.caCert);
  const certificate = readCertificateFile(certFile);
  return new FleetCa(
    dir,
    config,
    certificate,
    options.clock ?? systemClock,
    options.keyDir === undefined ? undefined : resolve(options.keyDir),
    options.passphrase,
  );
}

/** Reads one PEM certificate file; FM_PKI_INVALID naming it when it is missing or not a certificate. */
export function readCertificateFile(file: string): x509.X509Certificate {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FieldmeshError('FM_PKI_INVALID', `${file} cannot be read: ${(err as Error).message}`, { cause: err, details: { file } });
  }
  try {
    return new x509.X509Certificate(text);
  } catch (err) {
    throw new FieldmeshError('FM_PKI_INVALID', `${file} is not a PEM certificate: ${(err as Error).message}`, {
      cause: err,
      details: { file },
    });
  }
}

export class FleetCa {
  private signingKey: CryptoKey | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    private config: PkiConfig,
    readonly certificate: x509.X509Certificate,
    private readonly clock: Clock,
    private readonly keyDirOverride: string | undefined,
    private readonly passphrase: string | undefined,
  ) {}

  get fleet(): string {
    return this.config.fleet;
  }

  get certificatePem(): string {
    return `${this.certificate.toString('pem').trim()}\n`;
  }

  /** Where ca.key is read from: `--key-dir`, else the folder init recorded, else the PKI folder. */
  get keyFile(): string {
    return join(this.keyDirOverride ?? this.config.keyDir ?? this.dir, PKI_FILES.caKey);
  }

  get caFile(): string {
    return join(this.dir, PKI_FILES.caCert);
  }

  get crlFile(): string {
    return join(this.dir, PKI_FILES.crl);
  }

  get indexFile(): string {
    return join(this.dir, PKI_FILES.index);
  }

  /** @internal init hands over the key it just made. */
  useKey(key: CryptoKey): void {
    this.signingKey = key;
  }

  index(): CertificateIndex {
    return readIndex(this.indexFile);
  }

  /** Every certificate issued, with its effective state and days left. */
  list(): CertificateListing[] {
    return listCertificates(this.index(), this.clock.now());
  }

  /**
   * `issue NODE`: makes the node's key here (an admin bootstrapping a node) and signs it. Writes
   * `<outDir>/<node>.key` (0600), `<node>.crt` and `ca.crt`; `outDir` defaults to `<dir>/nodes/<node>`.
   */
  issue(node: string, options: IssueOptions & { readonly outDir?: string }): Promise<IssuedNodeFiles> {
    return this.exclusive(async () => {
      assertId(node, 'node id');
      const outDir = resolve(options.outDir ?? join(this.dir, PKI_FILES.nodes, node));
      const keyFile = join(outDir, `${node}.key`);
      if (existsSync(keyFile)) throw new FieldmeshError('FM_PKI_REFUSED', `${keyFile} exists already; give another --out folder`);
      this.refuseSecondCertificate(node);
      const keys = await generateKeyPair();
      const result = await this.signPublicKey(await x509PublicKey(keys.publicKey), {
        node,
        site: assertId(options.site, '--site'),
        sans: parseSans(options.sans ?? []),
        days: assertDays(options.days ?? NODE_CERT_DAYS),
      });
      writeFileAtomic(keyFile, await exportPrivateKeyPem(keys.privateKey), { mode: 0o600 });
      const certFile = join(outDir, `${node}.crt`);
      writeFileAtomic(certFile, result.certificatePem);
      const caFile = join(outDir, PKI_FILES.caCert);
      writeFileAtomic(caFile, this.certificatePem);
      return { ...result, keyFile, certFile, caFile };
    });
  }

  /**
   * `sign CSR --node ID`: checks the CSR (its signature, CN = `node`, a P-256 key, DNS/IP SANs only) and signs
   * it. The site is the CSR's OU unless `site` is given. The key stays where the CSR was made.
   */
  sign(
    csrPem: string,
    options: {
      readonly node: string;
      readonly site?: string;
      readonly days?: number;
      /** Validity in ms instead of whole days (the hub's online signer: `pki.nodeCertDays` may be a fraction). */
      readonly validityMs?: number;
      readonly source?: string;
    },
  ): Promise<IssueResult> {
    return this.exclusive(async () => {
      const node = assertId(options.node, '--node');
      const checked = await checkCsr(csrPem, options.source ?? 'the CSR', node);
      const site = options.site ?? checked.site;
      if (site === undefined) {
        throw new FieldmeshError('FM_PKI_INVALID', `${options.source ?? 'the CSR'} names no site (OU): give --site`);
      }
      this.refuseSecondCertificate(node);
      return this.signPublicKey(checked.csr.publicKey, {
        node,
        site: assertId(site, 'site'),
        sans: checked.sans,
        days: validityDays(options.validityMs) ?? assertDays(options.days ?? NODE_CERT_DAYS),
      });
    });
  }

  /**
   * `renew NODE`: a new certificate for the node, valid from now, while the old one stays in force until its own
   * notAfter (overlapping validity) or until it is revoked as superseded. The key is the current certificate's
   * unless a CSR brings a new one; site and SANs carry over (a CSR's SANs win when it has some).
   */
  renew(
    node: string,
    options: { readonly csrPem?: string; readonly source?: string; readonly days?: number; readonly validityMs?: number } = {},
  ): Promise<IssueResult & { readonly renewed: IssuedCertificate }> {
    return this.exclusive(async () => {
      assertId(node, 'node id');
      const index = this.index();
      const current = validStateCertificatesOf(index, node)[0];
      if (current === undefined) {
        const known = index.certificates.some((c) => c.node === node);
        throw new FieldmeshError(
          'FM_PKI_REFUSED',
          known
            ? `node ${node} has no certificate in force to renew (all revoked or superseded): issue or sign a new one`
            : `node ${node} has no certificate from this CA: issue or sign one first`,
          { details: { node } },
        );
      }
      const previous = readCertificateFile(join(this.dir, current.file));
      let publicKey = previous.publicKey;
      let sans = sansOf(previous.extensions).sans;
      if (options.csrPem !== undefined) {
        const checked = await checkCsr(options.csrPem, options.source ?? 'the CSR', node);
        if (checked.site !== undefined && checked.site !== current.site) {
          throw new FieldmeshError(
            'FM_PKI_REFUSED',
            `${options.source ?? 'the CSR'} names site ${checked.site}, but node ${node} is on site ${current.site}`,
          );
        }
        publicKey = checked.csr.publicKey;
        if (checked.sans.length > 0) sans = checked.sans;
      }
      const days =
        validityDays(options.validityMs) ??
        assertDays(options.days ?? Math.round((Date.parse(current.notAfter) - Date.parse(current.notBefore)) / DAY_MS));
      const result = await this.signPublicKey(publicKey, { node, site: current.site, sans, days, renews: current.serial });
      // Where `issue` put the node's files, the new certificate replaces the old one next to the same key.
      const issuedDir = join(this.dir, PKI_FILES.nodes, node);
      if (options.csrPem === undefined && existsSync(join(issuedDir, `${node}.key`))) {
        writeFileAtomic(join(issuedDir, `${node}.crt`), result.certificatePem);
      }
      return { ...result, renewed: current };
    });
  }

  /**
   * Revokes by serial, or every certificate in force of a node. With reason `superseded`, a node's newest
   * certificate stays and the older ones go (the end of a renewal's overlap). The CRL is signed again.
   */
  revoke(target: string, reason: RevocationReason): Promise<{ readonly revoked: IssuedCertificate[]; readonly crl: CrlInfo }> {
    return this.exclusive(async () => {
      await this.key();
      const index = this.index();
      const bySerial = isSerial(target) ? index.certificates.find((c) => c.serial === canonicalSerial(target)) : undefined;
      let chosen: IssuedCertificate[];
      if (bySerial !== undefined) {
        if (bySerial.state !== 'valid') {
          throw new FieldmeshError(
            'FM_PKI_REFUSED',
            `certificate ${bySerial.serial} of node ${bySerial.node} is ${bySerial.state} already`,
          );
        }
        chosen = [bySerial];
      } else {
        if (isSerial(target) && !index.certificates.some((c) => c.node === target)) {
          throw new FieldmeshError('FM_PKI_REFUSED', `no certificate of serial ${target} in ${this.indexFile}`);
        }
        const node = assertId(target, 'node id or serial');
        const inForce = validStateCertificatesOf(index, node);
        chosen = reason === 'superseded' ? inForce.slice(1) : inForce;
        if (chosen.length === 0) {
          throw new FieldmeshError(
            'FM_PKI_REFUSED',
            inForce.length === 1
              ? `node ${node} has one certificate in force (${inForce[0]?.serial}); none is superseded`
              : `node ${node} has no certificate in force to revoke`,
            { details: { node } },
          );
        }
      }
      const at = new Date(this.clock.now()).toISOString();
      const serials = new Set(chosen.map((c) => c.serial));
      const updated: CertificateIndex = {
        ...index,
        certificates: index.certificates.map((c) =>
          serials.has(c.serial) ? { ...c, state: reason === 'superseded' ? 'superseded' : 'revoked', revokedAt: at, reason } : c,
        ),
      };
      writeIndex(this.indexFile, updated);
      const crl = await this.writeCrl(updated);
      return { revoked: updated.certificates.filter((c) => serials.has(c.serial)), crl };
    });
  }

  /** Signs a new CRL (number + 1, nextUpdate in `crlDays`) and writes crl.pem. */
  refreshCrl(): Promise<CrlInfo> {
    return this.exclusive(async () => this.writeCrl(this.index()));
  }

  /** The CRL as it is on disk, without the CA key. */
  currentCrl(): CrlInfo {
    const pem = readFileSync(this.crlFile, 'utf8');
    const crl = parseCrl(pem, this.crlFile);
    return {
      pem,
      file: this.crlFile,
      number: crlNumberOf(crl) ?? 0,
      thisUpdate: crl.thisUpdate,
      nextUpdate: crl.nextUpdate,
      entries: crl.entries.length,
    };
  }

  private async writeCrl(index: CertificateIndex): Promise<CrlInfo> {
    const key = await this.key();
    const now = this.clock.now();
    const number = this.config.crlNumber + 1;
    const thisUpdate = new Date(now - NOT_BEFORE_BACKDATE_MS);
    const nextUpdate = new Date(now + this.config.crlDays * DAY_MS);
    const revoked = index.certificates.filter((c) => c.state !== 'valid');
    const crl = await x509.X509CrlGenerator.create({
      issuer: this.certificate.subjectName,
      thisUpdate,
      nextUpdate,
      signingKey: key,
      signingAlgorithm: ECDSA_SHA256,
      entries: revoked.map((c) => ({
        serialNumber: c.serial,
        revocationDate: new Date(c.revokedAt ?? now),
        reason: REVOCATION_REASONS[(c.reason ?? 'unspecified') as RevocationReason] ?? x509.X509CrlReason.unspecified,
      })),
      extensions: [
        new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(number))),
        await x509.AuthorityKeyIdentifierExtension.create(this.certificate),
      ],
    });
    const pem = toPem(crl.rawData, 'X509 CRL');
    writeFileAtomic(this.crlFile, pem);
    this.config = { ...this.config, crlNumber: number };
    writePkiConfig(this.dir, this.config);
    return { pem, file: this.crlFile, number, thisUpdate, nextUpdate, entries: revoked.length };
  }

  private refuseSecondCertificate(node: string): void {
    const inForce = validCertificatesOf(this.index(), node, this.clock.now());
    const first = inForce[0];
    if (first !== undefined) {
      throw new FieldmeshError(
        'FM_PKI_REFUSED',
        `node ${node} (site ${first.site}) holds certificate ${first.serial} until ${first.notAfter}: renew it (fieldmesh pki renew ${node}) or revoke it first`,
        { details: { node, serial: first.serial } },
      );
    }
  }

  private async signPublicKey(
    publicKey: x509.PublicKey,
    o: { node: string; site: string; sans: readonly SubjectAltName[]; days: number; renews?: string },
  ): Promise<IssueResult> {
    if (!isP256(publicKey))
      throw new FieldmeshError('FM_PKI_REFUSED', `the key is ${describeKey(publicKey)}; the fleet CA signs ECDSA P-256 keys only`);
    const key = await this.key();
    const now = this.clock.now();
    const notBefore = new Date(now - NOT_BEFORE_BACKDATE_MS);
    const notAfter = new Date(now + o.days * DAY_MS);
    if (this.certificate.notAfter.getTime() <= now) {
      throw new FieldmeshError(
        'FM_PKI_REFUSED',
        `the fleet CA expired on ${this.certificate.notAfter.toISOString()}; it signs nothing more`,
      );
    }
    if (notAfter > this.certificate.notAfter) {
      const left = Math.floor((this.certificate.notAfter.getTime() - now) / DAY_MS);
      throw new FieldmeshError(
        'FM_PKI_REFUSED',
        `a ${o.days}-day certificate would outlive the fleet CA (valid until ${this.certificate.notAfter.toISOString()}): give --days ${left} or less`,
      );
    }
    const index = this.index();
    let serial = randomSerial();
    while (index.certificates.some((c) => c.serial === serial)) serial = randomSerial();
    const subject = nodeSubject(o.node, this.config.fleet, o.site);
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject,
      issuer: this.certificate.subjectName,
      notBefore,
      notAfter,
      signingAlgorithm: ECDSA_SHA256,
      publicKey,
      signingKey: key,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        // The same certificate serves the node as an MQTT/HTTPS client and for its own API as a server.
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        ...(o.sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(o.sans.map((s) => ({ type: s.type, value: s.value })))] : []),
        await x509.AuthorityKeyIdentifierExtension.create(this.certificate),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
      ],
    });
    const canonical = canonicalSerial(certificate.serialNumber);
    const relative = `${PKI_FILES.certs}/${canonical}.crt`;
    const certificatePem = `${certificate.toString('pem').trim()}\n`;
    writeFileAtomic(join(this.dir, relative), certificatePem);
    const record: IssuedCertificate = {
      serial: canonical,
      node: o.node,
      site: o.site,
      subject: certificate.subject,
      // The certificate's own times (whole seconds), not the requested ones.
      notBefore: certificate.notBefore.toISOString(),
      notAfter: certificate.notAfter.toISOString(),
      state: 'valid',
      issuedAt: new Date(now).toISOString(),
      file: relative,
      sans: o.sans.map(formatSan),
      ...(o.renews === undefined ? {} : { renews: o.renews }),
    };
    writeIndex(this.indexFile, { ...index, certificates: [...index.certificates, record] });
    return { record, certificatePem, certificateFile: join(this.dir, relative) };
  }

  private async key(): Promise<CryptoKey> {
    if (this.signingKey !== undefined) return this.signingKey;
    const file = this.keyFile;
    if (!existsSync(file)) {
      const where = this.config.keyDir === null ? '' : ` (init kept it in ${this.config.keyDir}: mount that folder or give --key-dir)`;
      throw new FieldmeshError('FM_PKI_INVALID', `the CA key ${file} is not there${where}`, { details: { file } });
    }
    this.signingKey = await importPrivateKeyPem(readFileSync(file, 'utf8'), file, this.passphrase);
    return this.signingKey;
  }

  /** Runs CA operations one at a time: each reads the index, changes it and writes it whole. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }
}

/** A validity in ms as (fractional) days; undefined when none is given. FM_PKI_INVALID unless positive and finite. */
function validityDays(ms: number | undefined): number | undefined {
  if (ms === undefined) return undefined;
  if (!Number.isFinite(ms) || ms < 60_000) {
    throw new FieldmeshError('FM_PKI_INVALID', `a certificate validity must be at least one minute, got ${ms} ms`, { details: { ms } });
  }
  return ms / DAY_MS;
}

async function x509PublicKey(key: CryptoKey): Promise<x509.PublicKey> {
  return new x509.PublicKey(await crypto.subtle.exportKey('spki', key));
}

/** Parses and checks a CSR for `node`: FM_PKI_INVALID when unreadable, FM_PKI_REFUSED when it fails a check. */
async function checkCsr(pem: string, source: string, node: string): Promise<CheckedCsr> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch (err) {
    throw new FieldmeshError('FM_PKI_INVALID', `${source} is not a PEM certificate request: ${(err as Error).message}`, { cause: err });
  }
  let signed = false;
  try {
    signed = await csr.verify();
  } catch {
    signed = false;
  }
  if (!signed) throw new FieldmeshError('FM_PKI_REFUSED', `${source}: its signature does not verify with its own key (altered or corrupt)`);
  const commonName = nameField(csr.subjectName, 'CN');
  if (commonName !== node) {
    throw new FieldmeshError('FM_PKI_REFUSED', `${source} is for CN "${commonName ?? '(none)'}", not for node ${node}`, {
      details: { node, commonName },
    });
  }
  if (!isP256(csr.publicKey)) {
    throw new FieldmeshError(
      'FM_PKI_REFUSED',
      `${source} carries a ${describeKey(csr.publicKey)} key; the fleet CA signs ECDSA P-256 keys only`,
    );
  }
  const { sans, other } = sansOf(csr.extensions);
  if (other.length > 0) throw new FieldmeshError('FM_PKI_REFUSED', `${source} asks for names other than DNS and IP: ${other.join(', ')}`);
  const site = nameField(csr.subjectName, 'OU');
  return { csr, commonName, site, sans };
}

export function parseCrl(pem: string, source: string): x509.X509Crl {
  try {
    return new x509.X509Crl(pem);
  } catch (err) {
    throw new FieldmeshError('FM_PKI_INVALID', `${source} is not a PEM CRL: ${(err as Error).message}`, {
      cause: err,
      details: { file: source },
    });
  }
}

/** The CRL's cRLNumber extension, when it has one. */
export function crlNumberOf(crl: x509.X509Crl): number | undefined {
  const ext = crl.getExtension(id_ce_cRLNumber);
  return ext === null ? undefined : AsnConvert.parse(ext.value, CRLNumber).value;
}
