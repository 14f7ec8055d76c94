// The node's local time-series store: the SampleStore port and its SQLite implementation.
export { type DecodedChunk, decodeChunk, encodeChunk, MAX_CHUNK_TS } from './chunk-codec.js';
export {
  checkStoreSamples,
  createSqliteStore,
  type SqliteStore,
  type SqliteStoreOptions,
  type StoreOpenReport,
  type StoreWrite,
} from './sqlite-store.js';
export type {
  RollupFn,
  SampleStore,
  StoreCoverage,
  StorePoints,
  StoreRollup,
  StoreSeries,
  StoreStats,
} from './store.js';
export { DEFAULT_CHUNK_SPAN_MS } from './store.js';
