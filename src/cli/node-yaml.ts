// node.yaml as `fieldmesh node` reads it again while the node runs: what the file itself sets (for hand edits of
// a node that runs a distributed config) and the config it gives with the environment, validated as at start.
// docs/config-as-code.md "Hand edits of node.yaml".

import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { AGENT_ENV_ALIASES, agentConfigSchema, type LocalConfigFile } from '../agent/index.js';
import { FieldmeshError } from '../kit/index.js';
import { loadConfigFile } from './config-file.js';

/** `path` read again on each call; throws FM_CONFIG_UNREADABLE or FM_CONFIG_INVALID (file, line, path) as at start. */
export function nodeYamlFile(path: string, env: Readonly<Record<string, string | undefined>>): LocalConfigFile {
  return {
    path,
    read() {
      const config = loadConfigFile(agentConfigSchema, path, env, AGENT_ENV_ALIASES);
      let raw: unknown;
      try {
        raw = parse(readFileSync(path, 'utf8')) ?? {};
      } catch (err) {
        // Changed again between the two reads: the next change event reads it once more.
        throw new FieldmeshError('FM_CONFIG_UNREADABLE', `${path}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
      }
      return { raw: typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {}, config };
    },
  };
}
