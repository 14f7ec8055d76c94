// `remoteWrite` in node.yaml and hub.yaml: Prometheus' `remote_write` block with its `queue_config` names in camelCase.

import { z } from 'zod';
import { durationMs } from '../../kit/index.js';
import { parseSelector } from '../selector.js';

export const remoteWriteQueueSchema = z
  .strictObject({
    /** Samples per request at most (Prometheus' max_samples_per_send). */
    maxSamplesPerSend: z.number().int().positive().default(2000),
    /** Requests in flight at once at most, each for its share of the series (max_shards). */
    maxShards: z.number().int().positive().max(256).default(4),
    /** How often the forwarder reads new samples once caught up (batch_send_deadline). */
    batchSendDeadline: durationMs('5s'),
    /** First retry delay, doubled per failure up to maxBackoff (min_backoff, max_backoff). */
    minBackoff: durationMs('30ms'),
    maxBackoff: durationMs('5s'),
  })
  .prefault({} as never);

export const remoteWriteSchema = z
  .strictObject({
    /** The receiver's remote write endpoint: http:// or https://. */
    url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
    /** Its name in metrics (`remote` label), logs and the cursor file; default: the URL's host and path. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected 1 to 64 of A-Z a-z 0-9 . _ -')
      .optional(),
    /** Extra headers of every request (X-Scope-OrgID for Mimir, ...). */
    headers: z.record(z.string(), z.string()).default({}),
    basicAuth: z.strictObject({ username: z.string(), password: z.string() }).optional(),
    /** `bearerToken_file: /path` reads it from a file, as every secret. */
    bearerToken: z.string().min(1).optional(),
    /** A request's time limit (remote_timeout). */
    remoteTimeout: durationMs('30s'),
    /** Series selectors (`battery_soc`, `{__name__=~"victron_.*"}`): only series matching one of them are sent; all when empty. */
    match: z
      .array(
        z.string().transform((text, ctx) => {
          try {
            return parseSelector(text).text;
          } catch (err) {
            ctx.addIssue({ code: 'custom', message: (err as Error).message });
            return text;
          }
        }),
      )
      .default([]),
    /** On the first start (no cursor saved yet), also send the samples this much older than now; default none. */
    history: durationMs('0s'),
    /** Labels added to every series sent, unless it has them (external_labels). */
    externalLabels: z.record(z.string(), z.string()).default({}),
    queue: remoteWriteQueueSchema,
  })
  .refine((r) => !(r.basicAuth !== undefined && r.bearerToken !== undefined), {
    message: 'basicAuth and bearerToken: give one of them, not both',
  });

export const remoteWritesSchema = z
  .array(remoteWriteSchema)
  .default([])
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((r, i) => {
      const name = remoteWriteName(r);
      if (seen.has(name))
        ctx.addIssue({
          code: 'custom',
          path: [i, 'name'],
          message: `two remotes are named ${JSON.stringify(name)}; give each its own name`,
        });
      seen.add(name);
    });
  });

export type RemoteWriteConfig = z.output<typeof remoteWriteSchema>;

/** A remote's name: its own, or its URL's host and path made safe for a file name and a label. */
export function remoteWriteName(r: { readonly name?: string | undefined; readonly url: string }): string {
  if (r.name !== undefined) return r.name;
  try {
    const u = new URL(r.url);
    return `${u.host}${u.pathname}`
      .replace(/[^A-Za-z0-9._-]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 64);
  } catch {
    return 'remote';
  }
}
