export {
  type AckSender,
  backlogOfFrame,
  DurableIngest,
  type DurableIngestMetrics,
  eventOfFrame,
  historySamples,
} from './durable-ingest.js';
export { createGroupCommit, GROUP_COMMIT_INTERVAL_MS, GROUP_COMMIT_MAX_SAMPLES, type GroupCommit } from './group-commit.js';
export { LiveIngest, storedNode } from './live-ingest.js';
export { WriteQueue } from './write-queue.js';
