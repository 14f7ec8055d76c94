// The node's side of the CSR flow: it makes its own key and a certificate request; the key never leaves it.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FieldmeshError } from '../kit/index.js';
import { writeFileAtomic } from './atomic-file.js';
import { exportPrivateKeyPem, generateKeyPair } from './keys.js';
import { assertFleetName, assertId, nodeSubject, parseSans } from './names.js';
import { ECDSA_SHA256, x509 } from './x509.js';

export interface NodeCsrOptions {
  readonly node: string;
  readonly site: string;
  /** The fleet's name for O; the CA sets its own when it signs, so this is informational. */
  readonly fleet?: string;
  /** DNS names and IP addresses the node answers on (for its own API over TLS). */
  readonly sans?: readonly string[];
}

/** A new P-256 key and a CSR for it: CN = node id, O = fleet, OU = site, the SANs as an extension request. */
export async function createNodeCsr(options: NodeCsrOptions): Promise<{ readonly keyPem: string; readonly csrPem: string }> {
  const node = assertId(options.node, 'node id');
  const site = assertId(options.site, '--site');
  const fleet = options.fleet === undefined ? undefined : assertFleetName(options.fleet);
  const sans = parseSans(options.sans ?? []);
  const keys = await generateKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: nodeSubject(node, fleet, site),
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans.map((s) => ({ type: s.type, value: s.value })))] : [],
  });
  return { keyPem: await exportPrivateKeyPem(keys.privateKey), csrPem: `${csr.toString('pem').trim()}\n` };
}

/** Writes `<outDir>/<node>.key` (0600) and `<outDir>/<node>.csr`; refuses to replace a key that exists. */
export async function writeNodeCsr(
  outDir: string,
  options: NodeCsrOptions,
): Promise<{ readonly keyFile: string; readonly csrFile: string }> {
  const dir = resolve(outDir);
  const keyFile = join(dir, `${assertId(options.node, 'node id')}.key`);
  const csrFile = join(dir, `${options.node}.csr`);
  if (existsSync(keyFile)) {
    throw new FieldmeshError(
      'FM_PKI_REFUSED',
      `${keyFile} exists already: the node's key in use is never replaced here; give another --out folder`,
      {
        details: { file: keyFile },
      },
    );
  }
  const { keyPem, csrPem } = await createNodeCsr(options);
  writeFileAtomic(keyFile, keyPem, { mode: 0o600 });
  writeFileAtomic(csrFile, csrPem);
  return { keyFile, csrFile };
}
