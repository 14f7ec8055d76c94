// A frame worker in a process of its own, for the kill -9 test: it takes messages and never finishes one, printing
// "got <seq>" for each. Usage: node --import tsx queue-worker-process.ts '<json options>'

import { connectQueue, createFrameWorker } from '../../src/hub/queue/index.js';

interface Args {
  readonly servers: string[];
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly consumer: string;
  readonly ackWaitMs: number;
  readonly concurrency: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const connection = await connectQueue({ servers: args.servers, name: 'killed-worker' });
const worker = createFrameWorker({
  connection,
  stream: args.stream,
  subjectPrefix: args.subjectPrefix,
  consumer: args.consumer,
  ackWaitMs: args.ackWaitMs,
  concurrency: args.concurrency,
  handler: (m) => {
    process.stdout.write(`got ${m.seq}\n`);
    return new Promise<void>(() => {});
  },
});
await worker.start();
process.stdout.write('started\n');
