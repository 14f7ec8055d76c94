// hub.yaml `configRepo:`: where the hub reads the fleet's configuration repository (a plain folder it
// re-reads on change, or a git remote it pulls), and whether a new valid revision rolls out at once
// (`auto`) or waits for `fieldmesh config apply` (`manual`). docs/config-as-code.md "Reconciliation at the hub".

import { z } from 'zod';
import { durationMs } from '../../kit/index.js';

const positive = (ms: number) => ms > 0;

export const configRepoSchema = z
  .strictObject({
    /** A plain folder (a working tree, a mounted volume): its YAML files' mtimes are polled every `interval`. */
    dir: z.string().min(1).optional(),
    /** A git remote, cloned with the system's git into `checkout` and fetched + reset to origin/<branch> every `interval`. */
    git: z
      .strictObject({
        url: z.string().min(1),
        branch: z.string().min(1).default('main'),
        interval: durationMs('1m').refine(positive, 'must be longer than 0'),
        /** Where the hub keeps its clone; default `<dataDir>/config-repo`. Only the hub writes there. */
        checkout: z.string().min(1).optional(),
      })
      .optional(),
    /** How often `dir` is polled for changes. */
    interval: durationMs('10s').refine(positive, 'must be longer than 0'),
    /** `auto`: a valid new revision goes to every node at once; `manual`: it waits for `POST /api/v1/config/apply`. */
    rollout: z.enum(['auto', 'manual']).default('auto'),
    /** How long an apply wave waits for each node's report before it counts the node as timed out. */
    applyTimeout: durationMs('2m').refine(positive, 'must be longer than 0'),
  })
  .refine((c) => (c.dir === undefined) !== (c.git === undefined), 'give exactly one of "dir" or "git"');

export type ConfigRepoConfig = z.output<typeof configRepoSchema>;
