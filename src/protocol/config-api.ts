// The hub's configuration reconciliation API shapes (GET /api/v1/config[/nodes[/:site/:node]], POST
// /api/v1/config/apply, the live feed's `config` messages; docs/config-as-code.md "Reconciliation at the
// hub"): one definition, read by the hub (src/hub/config-repo/), the console and the CLI.

import type { ActionSelector } from './api.js';
import type { NodeStateName } from './frames.js';

/** Where a value was set (fleet-config's Provenance). */
export interface ConfigLeafOrigin {
  readonly layer: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** One problem of a refused revision, printed `file:line:col: path: message`. */
export interface ConfigRepoProblemView {
  readonly kind: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly path: string;
  readonly message: string;
  readonly node?: string;
}

export const CONFIG_NODE_STATES = ['in-sync', 'pending', 'failed', 'pending-restart', 'offline', 'unknown-node', 'removed'] as const;
export type ConfigNodeState = (typeof CONFIG_NODE_STATES)[number];

export interface ConfigReport {
  readonly kind: 'applied' | 'rejected';
  readonly hash: string;
  readonly commit: string | null;
  /** The event's time (the node's clock), ms. */
  readonly at: number;
  readonly applied: readonly string[];
  readonly pendingRestart: readonly string[];
  readonly stage?: string;
  readonly error?: string;
  readonly problems?: readonly { readonly path: string; readonly message: string }[];
  /** `applied`: the top-level keys node.yaml set differently from this config when the node applied it (hand edits). */
  readonly handEdited?: readonly string[];
}

/**
 * Why a node counts as drifted. `unissued-hash`: it reports running a config hash the hub never issued for it (a
 * config put there by other means). `hand-edit`: it runs the distributed config, but its node.yaml sets these
 * top-level keys differently (edits that do not run; the node's `config_hand_edit` / `config_applied` report at `at`).
 */
export type ConfigDriftReason =
  | { readonly kind: 'unissued-hash'; readonly hash: string }
  | { readonly kind: 'hand-edit'; readonly keys: readonly string[]; readonly at: number };

export interface PublishedConfig {
  readonly hash: string;
  readonly commit: string | null;
  readonly at: number;
}

/** One node's row as the API and the CLI show it. */
export interface NodeConfigView {
  readonly site: string;
  readonly node: string;
  readonly zone: string | null;
  readonly state: ConfigNodeState;
  /** driftReason !== null. */
  readonly drift: boolean;
  readonly driftReason: ConfigDriftReason | null;
  /** What the last good revision wants; null for a node in no repository file. */
  readonly desired: { readonly hash: string; readonly commit: string | null } | null;
  /** What is retained on the broker for the node now; null when nothing. */
  readonly published: PublishedConfig | null;
  readonly reported: ConfigReport | null;
  /** The node's state at the hub (undefined: never heard). */
  readonly fleetState: NodeStateName | null;
}

export interface RevisionInfo {
  readonly revision: string;
  readonly commit: string | null;
  /** When the hub read it, ms. */
  readonly at: number;
}

export interface RefusedRevision extends RevisionInfo {
  readonly problems: readonly ConfigRepoProblemView[];
}

export type ApplyNodeResult = 'waiting' | 'applied' | 'pending-restart' | 'failed' | 'timeout' | 'offline' | 'skipped';

export interface ApplyRunView {
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
  /** Why the run stopped (the first failing wave), or null. */
  readonly stoppedBy: string | null;
}

export interface ApplyRequest {
  readonly target?: ActionSelector;
  /** Sizes of successive waves (the nodes left form one last wave), or waves of `size` nodes; default one wave. */
  readonly waves?: readonly number[] | { readonly size: number };
  readonly pauseMs?: number;
  readonly timeoutMs?: number;
}

export interface ConfigRepoSummary {
  readonly source: string;
  readonly rollout: 'auto' | 'manual';
  readonly lastRead: RevisionInfo | null;
  readonly lastGood: RevisionInfo | null;
  readonly lastRefused: RefusedRevision | null;
  /** The newest revision read was refused (the hub distributes lastGood). */
  readonly refused: boolean;
  /** The last failure to read the repository (git fetch, a folder gone), or null after a good read. */
  readonly lastError: { readonly at: number; readonly message: string } | null;
  /** manual rollout: a good revision not yet applied. */
  readonly awaitingApply: boolean;
  readonly nodes: { readonly total: number; readonly states: Record<ConfigNodeState, number>; readonly drift: number };
  readonly lastRun: ApplyRunView | null;
}
