// Protocol v1: wire frames, session coding and topic names shared by agent, hub, CLI and dashboard.

export * from './api.js';
export * from './assignment.js';
export * from './awareness.js';
export { type BackfillFrame, MAX_BACKFILL_ID_BYTES, MAX_BACKFILL_SELECTORS } from './backfill.js';
export * from './certificate.js';
export { FrameError, type FrameRejectReason } from './codec.js';
export * from './config-dist.js';
export * from './config-hash.js';
export * from './consensus/index.js';
export * from './frame-router.js';
export * from './frames.js';
export {
  ACK_LANES,
  type AckFrame,
  type AckLane,
  type DroppedRange,
  type HistoryFrame,
  type HistorySeries,
  type RepairedRange,
} from './history.js';
export * from './json.js';
export * from './node-command.js';
export {
  MAX_QUERY_ID_BYTES,
  MAX_QUERY_PARAMS,
  MAX_REPLY_BODY_BYTES,
  NODE_QUERY_KINDS,
  type NodeQueryKind,
  type QueryFrame,
  type QueryParam,
  REPLY_STATUSES,
  type ReplyFrame,
  type ReplyStatus,
} from './node-query.js';
export * from './prometheus/index.js';
export * from './sample.js';
export * from './selector.js';
export * from './series.js';
export * from './session.js';
export { sha256, sha256Hex } from './sha256.js';
export * from './topics.js';
export * from './version.js';
