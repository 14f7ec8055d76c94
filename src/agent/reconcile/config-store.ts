// The distributed configs a node keeps on disk, under <state dir>/config/ (state dir: <dataDir>/<site>/<node>):
// received.json (the last desired config received, whatever became of it) and last-good.json (the last one
// applied, which the node runs again at its next start, merged with its node.yaml's local keys). Written
// durably (temporary file, fsync, rename): a crash leaves the old file or the new one.

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, type Logger } from '../../kit/index.js';
import { writeFileDurably } from '../../platform/index.js';
import type { DesiredConfig } from '../../protocol/index.js';

/** Where a running config came from: the node's own file, the hub, or the node's clone of the repository. */
export type ConfigOrigin = 'file' | 'hub' | 'repo';

export interface LastGoodConfig {
  readonly desired: DesiredConfig;
  readonly origin: Exclude<ConfigOrigin, 'file'>;
  /** When the node applied it, ms since the Unix epoch. */
  readonly appliedAt: number;
}

export const CONFIG_STATE_DIR = 'config';
const RECEIVED_FILE = 'received.json';
const LAST_GOOD_FILE = 'last-good.json';

function isDesired(v: unknown): v is DesiredConfig {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Record<string, unknown>;
  return (
    typeof d.hash === 'string' &&
    (d.commit === null || typeof d.commit === 'string') &&
    typeof d.source === 'string' &&
    typeof d.config === 'object' &&
    d.config !== null
  );
}

export class ConfigStore {
  readonly dir: string;

  constructor(
    stateDir: string,
    private readonly logger: Logger,
  ) {
    this.dir = join(stateDir, CONFIG_STATE_DIR);
  }

  saveReceived(desired: DesiredConfig): void {
    writeFileDurably(join(this.dir, RECEIVED_FILE), `${JSON.stringify(desired, null, 2)}\n`);
  }

  saveLastGood(lastGood: LastGoodConfig): void {
    writeFileDurably(join(this.dir, LAST_GOOD_FILE), `${JSON.stringify(lastGood, null, 2)}\n`);
  }

  /** The last good config, or undefined when there is none or the file is unreadable (logged: the node then runs node.yaml). */
  loadLastGood(): LastGoodConfig | undefined {
    const path = join(this.dir, LAST_GOOD_FILE);
    if (!existsSync(path)) return undefined;
    try {
      const v = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      if (!isDesired(v.desired) || (v.origin !== 'hub' && v.origin !== 'repo') || typeof v.appliedAt !== 'number') {
        throw new Error('not a last-good record {desired, origin, appliedAt}');
      }
      return { desired: v.desired, origin: v.origin, appliedAt: v.appliedAt };
    } catch (err) {
      this.logger.warn({ path, err: describeError(err) }, `config: ${path} is unreadable (${describeError(err)}); running node.yaml`);
      return undefined;
    }
  }

  /** Forgets the last good config (the hub cleared the node's desired config): the next start runs node.yaml. */
  clearLastGood(): void {
    rmSync(join(this.dir, LAST_GOOD_FILE), { force: true });
  }
}
