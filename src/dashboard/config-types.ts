// The hub's configuration reconciliation API as the console reads it (GET /api/v1/config[/nodes[/:site/:node]],
// POST /api/v1/config/sync|apply; src/hub/api/config/config-routes.ts). Declared here because the console may
// import only protocol, kit and client (scripts/check-borders.mjs); the shapes follow src/hub/config-repo/.

import type { ActionSelector } from '../protocol/api.js';
import type { NodeStateName } from '../protocol/frames.js';

/** A node's configuration state at the hub (src/hub/config-repo/config-tracker.ts CONFIG_NODE_STATES). */
export type ConfigNodeState = 'in-sync' | 'pending' | 'failed' | 'pending-restart' | 'offline' | 'unknown-node' | 'removed';

export interface RevisionInfo {
  readonly revision: string;
  readonly commit: string | null;
  /** When the hub read it, ms since the epoch. */
  readonly at: number;
}

/** One problem of a refused revision: `file:line:col: path: message`. */
export interface ConfigProblem {
  readonly kind: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly path: string;
  readonly message: string;
  readonly node?: string;
}

export interface RefusedRevision extends RevisionInfo {
  readonly problems: readonly ConfigProblem[];
}

export type ApplyNodeResult = 'waiting' | 'applied' | 'pending-restart' | 'failed' | 'timeout' | 'offline' | 'skipped';

export interface ApplyRun {
  readonly id: string;
  readonly by: string | null;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly state: 'running' | 'done' | 'stopped';
  readonly revision: string | null;
  readonly commit: string | null;
  readonly waves: readonly {
    readonly index: number;
    readonly state: 'waiting' | 'running' | 'ok' | 'failed' | 'skipped';
    readonly nodes: readonly {
      readonly site: string;
      readonly node: string;
      readonly hash: string;
      readonly result: ApplyNodeResult;
      readonly error?: string;
    }[];
  }[];
  /** Why the run stopped ("wave 2: north/n1 failed (...)"); null when it did not. */
  readonly stoppedBy: string | null;
}

export interface ApplyRequestBody {
  readonly target?: ActionSelector;
  readonly waves?: readonly number[] | { readonly size: number };
  readonly pauseMs?: number;
  readonly timeoutMs?: number;
  readonly wait?: boolean;
}

export interface ConfigSummary {
  readonly source: string;
  readonly rollout: 'auto' | 'manual';
  readonly lastRead: RevisionInfo | null;
  readonly lastGood: RevisionInfo | null;
  readonly lastRefused: RefusedRevision | null;
  /** True while the newest revision read is the refused one. */
  readonly refused: boolean;
  readonly lastError: { readonly at: number; readonly message: string } | null;
  /** `rollout: manual` and a revision not yet applied. */
  readonly awaitingApply: boolean;
  readonly nodes: { readonly total: number; readonly states: Record<ConfigNodeState, number>; readonly drift: number };
  readonly lastRun: ApplyRun | null;
}

/** A node's last `config_applied` / `config_rejected` report. */
export interface ConfigReport {
  readonly kind: 'applied' | 'rejected';
  readonly hash: string;
  readonly commit: string | null;
  readonly at: number;
  readonly applied: readonly string[];
  readonly pendingRestart: readonly string[];
  readonly stage?: string;
  readonly error?: string;
  readonly problems?: readonly { readonly path: string; readonly message: string }[];
}

export interface ConfigNodeRow {
  readonly site: string;
  readonly node: string;
  readonly zone: string | null;
  readonly state: ConfigNodeState;
  readonly drift: boolean;
  readonly desired: { readonly hash: string; readonly commit: string | null } | null;
  readonly published: { readonly hash: string; readonly commit: string | null; readonly at: number } | null;
  readonly reported: ConfigReport | null;
  readonly fleetState: NodeStateName | null;
}

/** Where a leaf of the effective config was set. */
export interface LeafOrigin {
  readonly layer: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export interface ConfigNodeDetail extends ConfigNodeRow {
  readonly config: Readonly<Record<string, unknown>> | null;
  /** By path as fleet-config writes it: `store.retention`, `collectors[0].type`. */
  readonly provenance: Readonly<Record<string, LeafOrigin>> | null;
}

/** A live-feed `config` message (the hub's reconciler). */
export type ConfigLiveMessage =
  | { readonly type: 'config'; readonly event: 'accepted'; readonly revision: string; readonly commit: string | null }
  | {
      readonly type: 'config';
      readonly event: 'refused';
      readonly revision: string;
      readonly commit: string | null;
      readonly problems: number;
    }
  | { readonly type: 'config'; readonly event: 'apply'; readonly run: ApplyRun };
