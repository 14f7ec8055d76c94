// The hub's zone API shapes live in protocol (src/protocol/zone-api.ts), shared with the console and the CLI.
export type * from '../../protocol/zone-api.js';
