export {
  type AckSender,
  backlogOfFrame,
  DurableIngest,
  type DurableIngestMetrics,
  eventOfFrame,
  historySamples,
} from './durable-ingest.js';
export { LiveIngest, storedNode } from './live-ingest.js';
export { WriteQueue } from './write-queue.js';
