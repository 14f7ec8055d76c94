// What the console's live feed costs a slow link: the demo fleet, two subscribers to /api/v1/live side
// by side in one run, one that accepts gzip and one that does not, and the bytes each receives on the
// wire (HTTP body as sent, after the snapshot) per second.

import { type IncomingMessage, request } from 'node:http';
import { createHubClient } from '../src/client/index.js';
import { startDemo } from '../src/sim/index.js';
import { waitFor } from '../test/kit/wait.js';

export interface LiveFeedFigures {
  readonly nodes: number;
  readonly seconds: number;
  readonly messages: number;
  readonly plainBytesPerSecond: number;
  readonly gzipBytesPerSecond: number;
  /** plain / gzip. */
  readonly ratio: number;
}

function subscribe(url: string, acceptEncoding: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { 'accept-encoding': acceptEncoding } }, resolve);
    req.on('error', reject);
    req.end();
  });
}

export async function benchLiveFeed(nodes: number, seconds: number): Promise<LiveFeedFigures> {
  const demo = await startDemo({ nodes, sites: Math.max(1, Math.round(nodes / 10)), brokerPort: 0, wsPort: 0, hubPort: 0 });
  try {
    // Let every node come online first: the steady state is what a console watches for hours.
    const client = createHubClient(demo.consoleUrl);
    await waitFor(async () => (await client.nodes()).filter((n) => n.state === 'online').length === nodes, {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: `${nodes} demo nodes online`,
    });
    const url = `${demo.consoleUrl.replace(/\/$/, '')}/api/v1/live`;
    const [plain, gzip] = await Promise.all([subscribe(url, 'identity'), subscribe(url, 'gzip')]);
    const counted = { plain: 0, gzip: 0, messages: 0 };
    // The snapshot's bytes are not counted: from the first chunk after a short settle.
    let counting = false;
    plain.on('data', (b: Buffer) => {
      if (!counting) return;
      counted.plain += b.length;
      counted.messages += (b.toString().match(/\nevent: |^event: /g) ?? []).length;
    });
    gzip.on('data', (b: Buffer) => {
      if (counting) counted.gzip += b.length;
    });
    await new Promise((r) => setTimeout(r, 2_000));
    counting = true;
    const started = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const elapsed = (Date.now() - started) / 1000;
    plain.destroy();
    gzip.destroy();
    return {
      nodes,
      seconds: Math.round(elapsed * 10) / 10,
      messages: counted.messages,
      plainBytesPerSecond: Math.round(counted.plain / elapsed),
      gzipBytesPerSecond: Math.round(counted.gzip / elapsed),
      ratio: Math.round((counted.plain / Math.max(1, counted.gzip)) * 10) / 10,
    };
  } finally {
    await demo.stop();
  }
}
