// pki.json, the settings of a PKI folder: the fleet's name, where the CA key lives, whether it is encrypted,
// and the CRL's number and lifetime.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { FieldmeshError } from '../kit/index.js';
import { writeFileAtomic } from './atomic-file.js';

/** The files of a PKI folder (all relative to it; the CA key may sit in another folder). */
export const PKI_FILES = {
  config: 'pki.json',
  caCert: 'ca.crt',
  caKey: 'ca.key',
  index: 'index.json',
  crl: 'crl.pem',
  certs: 'certs',
  nodes: 'nodes',
} as const;

const configSchema = z
  .object({
    version: z.literal(1),
    fleet: z.string().min(1),
    createdAt: z.iso.datetime(),
    /** Absolute folder of ca.key when it is not the PKI folder (kept offline); null: the PKI folder. */
    keyDir: z.string().nullable(),
    keyEncrypted: z.boolean(),
    /** The number of the newest CRL written (RFC 5280 cRLNumber; grows by one with each). */
    crlNumber: z.number().int().min(0),
    /** Days from a CRL's thisUpdate to its nextUpdate. */
    crlDays: z.number().int().min(1),
  })
  .strict();

export type PkiConfig = z.infer<typeof configSchema>;

export function readPkiConfig(dir: string): PkiConfig {
  const path = join(dir, PKI_FILES.config);
  if (!existsSync(path)) {
    throw new FieldmeshError(
      'FM_PKI_INVALID',
      `${dir} is not a PKI folder: ${path} is missing (create one with fieldmesh pki init --dir ${dir})`,
      {
        details: { file: path },
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new FieldmeshError('FM_PKI_INVALID', `${path} is not JSON: ${(err as Error).message}`, { cause: err, details: { file: path } });
  }
  const parsed = configSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new FieldmeshError('FM_PKI_INVALID', `${path}: ${problems.join('; ')}`, { details: { file: path } });
  }
  return parsed.data;
}

export function writePkiConfig(dir: string, config: PkiConfig): void {
  writeFileAtomic(join(dir, PKI_FILES.config), `${JSON.stringify(config, null, 2)}\n`);
}
