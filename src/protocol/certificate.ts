// [FM-CERT-1..6] Certificate renewal over the fleet transport: a node publishes a certificate request (CSR) on its
// own `<prefix>/<site>/<node>/csr` (QoS 1, not retained), the hub signs it with the fleet CA and answers retained
// (QoS 1) on `<prefix>/_hub/cert/<site>/<node>`, which the embedded broker forwards to that node only.
// docs/protocol.md §13, docs/pki.md "Renewal over the fleet transport".

import { z } from 'zod';
import { FieldmeshError } from '../kit/index.js';
import { HUB_LEVEL, nodeTopic } from './topics.js';

/** [FM-CERT-1] What a node sends: a request id of its own and a PEM CSR (CN = node id, OU = site). */
export interface CertificateRequest {
  /** Chosen by the node; the answer carries it back, so an old retained answer is told apart. 1 to 64 characters. */
  readonly requestId: string;
  /** PKCS#10, PEM (`-----BEGIN CERTIFICATE REQUEST-----`). */
  readonly csr: string;
}

/**
 * [FM-CERT-3] The hub's answer: `issued` (the certificate and the CA, PEM), `pending` (the node is not approved yet:
 * the hub keeps the request and answers again at approval, [FM-CERT-5]) or `refused` (a code and a message).
 */
export type CertificateAnswer =
  | {
      readonly requestId: string;
      readonly status: 'issued';
      readonly certificate: string;
      readonly ca: string;
      readonly serial: string;
      /** ms since the Unix epoch. */
      readonly notAfter: number;
      /** The hub's `pki.renewAt`: the fraction of the validity after which the node renews, unless its node.yaml says. */
      readonly renewAt?: number;
    }
  | { readonly requestId: string; readonly status: 'pending' }
  | { readonly requestId: string; readonly status: 'refused'; readonly code: string; readonly message: string };

/**
 * [FM-CERT-7] What a node sends on the same csr topic once it has reconnected with a renewed certificate (and at
 * every connection after): the serial of the certificate its link uses. The hub revokes the node's older
 * certificates as superseded after hub.yaml `pki.revokeSupersededAfter`.
 */
export interface CertificateInUse {
  /** Lower-case hex, as in the CA's index. */
  readonly inUse: string;
}

/** [FM-CERT-1] A CSR is small (a P-256 key, a few SANs): anything larger is refused unread. */
export const MAX_CSR_BYTES = 16_384;

/** [FM-CERT-1] Where a node publishes its CSR: a channel of its own, which the broker lets only it write. */
export function nodeCsrTopic(prefix: string, site: string, node: string): string {
  return nodeTopic(prefix, site, node, 'csr');
}

/** [FM-CERT-3] Where the hub answers one node, retained. */
export function hubCertTopic(prefix: string, site: string, node: string): string {
  return `${prefix}/${HUB_LEVEL}/cert/${site}/${node}`;
}

const requestId = z
  .string({ error: 'requestId: expected a string' })
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'requestId: expected 1 to 64 characters of A-Z, a-z, 0-9, - and _');
const pem = (what: string, label: string) =>
  z
    .string({ error: `${what}: expected a string` })
    .refine((s) => s.includes(`-----BEGIN ${label}-----`), `${what}: expected PEM (${label})`);

const requestSchema = z.object({ requestId, csr: pem('csr', 'CERTIFICATE REQUEST') });
const inUseSchema = z.object({ inUse: z.string().regex(/^[0-9a-f]{1,64}$/, 'inUse: expected a lower-case hex serial') }).strict();
const answerSchema = z.discriminatedUnion('status', [
  z.object({
    requestId,
    status: z.literal('issued'),
    certificate: pem('certificate', 'CERTIFICATE'),
    ca: pem('ca', 'CERTIFICATE'),
    serial: z.string().regex(/^[0-9a-f]+$/, 'serial: expected lower-case hex'),
    notAfter: z.number().finite().nonnegative(),
    renewAt: z.number().gt(0).lt(1).optional(),
  }),
  z.object({ requestId, status: z.literal('pending') }),
  z.object({ requestId, status: z.literal('refused'), code: z.string(), message: z.string() }),
]);

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

function decodeJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new FieldmeshError('FM_CERT_INVALID', `${what} is not UTF-8 JSON: ${(err as Error).message}`, { cause: err });
  }
}

function problems(error: z.ZodError): string {
  return error.issues.map((i) => i.message).join('; ');
}

export function encodeCertificateRequest(r: CertificateRequest): Uint8Array {
  return encode({ requestId: r.requestId, csr: r.csr });
}

/** [FM-CERT-1] Throws FM_CERT_INVALID naming every problem (too large, not JSON, a field missing or wrong). */
export function decodeCertificateRequest(bytes: Uint8Array): CertificateRequest {
  if (bytes.byteLength > MAX_CSR_BYTES) {
    throw new FieldmeshError('FM_CERT_INVALID', `certificate request of ${bytes.byteLength} bytes; at most ${MAX_CSR_BYTES}`);
  }
  const parsed = requestSchema.safeParse(decodeJson(bytes, 'certificate request'));
  if (!parsed.success) throw new FieldmeshError('FM_CERT_INVALID', `certificate request refused: ${problems(parsed.error)}`);
  return parsed.data;
}

export function encodeCertificateInUse(m: CertificateInUse): Uint8Array {
  return encode({ inUse: m.inUse });
}

/**
 * [FM-CERT-1][FM-CERT-7] One message of a node's csr topic: a request, or the serial of the certificate in use.
 * Throws FM_CERT_INVALID naming every problem.
 */
export function decodeCsrTopicMessage(bytes: Uint8Array): CertificateRequest | CertificateInUse {
  if (bytes.byteLength > MAX_CSR_BYTES) {
    throw new FieldmeshError('FM_CERT_INVALID', `certificate request of ${bytes.byteLength} bytes; at most ${MAX_CSR_BYTES}`);
  }
  const value = decodeJson(bytes, 'certificate request');
  if (typeof value === 'object' && value !== null && 'inUse' in value) {
    const parsed = inUseSchema.safeParse(value);
    if (!parsed.success) throw new FieldmeshError('FM_CERT_INVALID', `certificate in use refused: ${problems(parsed.error)}`);
    return parsed.data;
  }
  const parsed = requestSchema.safeParse(value);
  if (!parsed.success) throw new FieldmeshError('FM_CERT_INVALID', `certificate request refused: ${problems(parsed.error)}`);
  return parsed.data;
}

export function encodeCertificateAnswer(a: CertificateAnswer): Uint8Array {
  return encode(a);
}

/** [FM-CERT-3] Throws FM_CERT_INVALID naming every problem. An empty payload (a cleared answer) is the caller's to tell apart. */
export function decodeCertificateAnswer(bytes: Uint8Array): CertificateAnswer {
  const parsed = answerSchema.safeParse(decodeJson(bytes, 'certificate answer'));
  if (!parsed.success) throw new FieldmeshError('FM_CERT_INVALID', `certificate answer refused: ${problems(parsed.error)}`);
  return parsed.data;
}
