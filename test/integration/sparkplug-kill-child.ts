// Test fixture of sparkplug.test.ts: an agent process in Sparkplug edge mode that prints "born <bdSeq>" once its
// NBIRTH is out, then runs until killed.
// Usage: node --import tsx sparkplug-kill-child.ts <broker url> <data dir> <node id>

import { agentConfigSchema, createAgent } from '../../src/agent/index.js';

const [url, dataDir, node] = process.argv.slice(2);
if (url === undefined || dataDir === undefined || node === undefined)
  throw new Error('usage: sparkplug-kill-child.ts <broker url> <data dir> <node id>');
const agent = createAgent(
  agentConfigSchema.parse({
    dataDir,
    node: { id: node, site: 'plant' },
    mqtt: { url },
    http: { enabled: false },
    sparkplug: { enabled: true },
  }),
  { epoch: 1, collectors: [] },
);
await agent.start();
const timer = setInterval(() => {
  if (agent.sparkplug?.born) {
    clearInterval(timer);
    process.stdout.write(`born ${agent.sparkplug.bdSeq}\n`);
  }
}, 10);
