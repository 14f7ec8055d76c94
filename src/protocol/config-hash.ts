// The content address of a node's configuration: SHA-256 (hex) of its canonical JSON (object keys sorted
// at every level, undefined members left out). One function for the agent, the hub and src/fleet-config,
// so the hash a repository renders is the hash the hub distributes and the node reports. [FM-CONFIG-DIST]

import { canonicalJson } from './consensus/zone-config.js';
import { sha256Hex } from './sha256.js';

/** SHA-256 (64 hex characters) of the canonical JSON of `config`; key order never changes it. */
export function configHashOf(config: unknown): string {
  return sha256Hex(canonicalJson(config));
}
