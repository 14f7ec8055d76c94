// The hub's configuration reconciliation API as the console reads it (GET /api/v1/config[/nodes[/:site/:node]],
// POST /api/v1/config/sync|apply; src/hub/api/config/config-routes.ts): the shapes are defined once in
// src/protocol/config-api.ts; the console's names for them, and the few shapes only the console builds.

import type { ApplyRequest, ApplyRunView, ConfigLeafOrigin, NodeConfigView } from '../protocol/config-api.js';

export type {
  ApplyNodeResult,
  ApplyRunView as ApplyRun,
  ConfigLeafOrigin as LeafOrigin,
  ConfigNodeState,
  ConfigRepoProblemView as ConfigProblem,
  ConfigReport,
  ConfigRepoSummary as ConfigSummary,
  NodeConfigView as ConfigNodeRow,
  RefusedRevision,
  RevisionInfo,
} from '../protocol/config-api.js';

/** `POST /api/v1/config/apply`: the hub's request, plus `wait` (answer when the run ends). */
export interface ApplyRequestBody extends ApplyRequest {
  readonly wait?: boolean;
}

export interface ConfigNodeDetail extends NodeConfigView {
  readonly config: Readonly<Record<string, unknown>> | null;
  /** By path as fleet-config writes it: `store.retention`, `collectors[0].type`. */
  readonly provenance: Readonly<Record<string, ConfigLeafOrigin>> | null;
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
  | { readonly type: 'config'; readonly event: 'apply'; readonly run: ApplyRunView };
