// The fleet side of bench/diag/rebirth-storm.ts: the hub-scale load generator's nodes in a process of their own.
import { startLoad } from '../hub-scale-load.js';
import { loadWorkload } from '../workload.js';

const url = process.argv[2] as string;
const nodes = Number(process.argv[3]);
const durationS = Number(process.argv[4] ?? 40);
const load = await startLoad({ brokerUrl: url, nodes, connections: Math.max(2, Math.ceil(nodes / 1250)), workload: await loadWorkload() });
setTimeout(async () => {
  console.log(JSON.stringify(load.counters));
  await load.close();
  process.exit(0);
}, durationS * 1000);
