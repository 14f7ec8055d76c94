// The CA's record of every certificate it issued: index.json in the PKI folder, replaced atomically.

import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { FieldmeshError } from '../kit/index.js';
import { type AtomicWriteSteps, writeFileAtomic } from './atomic-file.js';
import { DAY_MS } from './names.js';

/**
 * `valid`: issued and in force (possibly past its notAfter: `list` shows that as expired); `revoked`: on the CRL;
 * `superseded`: replaced by a renewal and put on the CRL with reason superseded.
 */
export type CertificateState = 'valid' | 'revoked' | 'superseded';

const issuedSchema = z
  .object({
    serial: z.string().regex(/^[0-9a-f]+$/),
    node: z.string().min(1),
    site: z.string().min(1),
    subject: z.string(),
    notBefore: z.iso.datetime(),
    notAfter: z.iso.datetime(),
    state: z.enum(['valid', 'revoked', 'superseded']),
    issuedAt: z.iso.datetime(),
    /** Where the certificate's PEM is kept, relative to the PKI folder. */
    file: z.string(),
    sans: z.array(z.string()),
    /** The serial this certificate renewed (overlapping validity). */
    renews: z.string().optional(),
    revokedAt: z.iso.datetime().optional(),
    /** RFC 5280 reason name (keyCompromise, superseded, ...). */
    reason: z.string().optional(),
  })
  .strict();

const indexSchema = z.object({ version: z.literal(1), certificates: z.array(issuedSchema) }).strict();

export type IssuedCertificate = z.infer<typeof issuedSchema>;
export type CertificateIndex = z.infer<typeof indexSchema>;

export function emptyIndex(): CertificateIndex {
  return { version: 1, certificates: [] };
}

/** Reads index.json; FM_PKI_INVALID naming the file and the field when it is not the index this code writes. */
export function readIndex(path: string): CertificateIndex {
  if (!existsSync(path)) throw new FieldmeshError('FM_PKI_INVALID', `${path} is missing: is this a PKI folder (fieldmesh pki init)?`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new FieldmeshError('FM_PKI_INVALID', `${path} is not JSON: ${(err as Error).message}`, { cause: err, details: { file: path } });
  }
  const parsed = indexSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new FieldmeshError('FM_PKI_INVALID', `${path} is not a certificate index: ${problems.join('; ')}`, { details: { file: path } });
  }
  return parsed.data;
}

/** Replaces index.json atomically (temporary file, fsync, rename, fsync of the folder). */
export function writeIndex(path: string, index: CertificateIndex, steps?: AtomicWriteSteps): void {
  writeFileAtomic(path, `${JSON.stringify(index, null, 2)}\n`, steps === undefined ? {} : { steps });
}

/** One line of `fieldmesh pki list`. */
export interface CertificateListing {
  readonly node: string;
  readonly site: string;
  readonly subject: string;
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** The index state, or `expired` for a valid certificate past its notAfter. */
  readonly state: CertificateState | 'expired';
  /** Whole days until notAfter, truncated toward zero (negative once expired). */
  readonly daysLeft: number;
}

export function listCertificates(index: CertificateIndex, nowMs: number): CertificateListing[] {
  return index.certificates
    .map((c) => {
      const notAfter = Date.parse(c.notAfter);
      const expired = c.state === 'valid' && notAfter <= nowMs;
      return {
        node: c.node,
        site: c.site,
        subject: c.subject,
        serial: c.serial,
        notBefore: c.notBefore,
        notAfter: c.notAfter,
        state: expired ? ('expired' as const) : c.state,
        daysLeft: Math.trunc((notAfter - nowMs) / DAY_MS),
      };
    })
    .sort((a, b) => (a.node === b.node ? a.notBefore.localeCompare(b.notBefore) : a.node.localeCompare(b.node)));
}

/** A node's certificates of state valid, newest first: the index is append-only, so later entries were issued later. */
export function validStateCertificatesOf(index: CertificateIndex, node: string): IssuedCertificate[] {
  return index.certificates.filter((c) => c.node === node && c.state === 'valid').reverse();
}

/** A node's certificates in force (state valid, not past notAfter), newest first. */
export function validCertificatesOf(index: CertificateIndex, node: string, nowMs: number): IssuedCertificate[] {
  return validStateCertificatesOf(index, node).filter((c) => Date.parse(c.notAfter) > nowMs);
}
