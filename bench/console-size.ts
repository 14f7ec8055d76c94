// What the console costs on the wire: starts the demo, loads `/` (and then a node page) in Debian's
// Chromium, and sums the encoded sizes (compressed bodies plus headers) of every response of each load.
// The goal: under 150 KB gzip for everything the first load of `/` transfers.

import { startDemo } from '../src/sim/index.js';
import { launchBrowser } from '../test/kit/browser.js';

/** The first-load budget of the console, bytes. */
export const CONSOLE_FIRST_LOAD_BUDGET_BYTES = 150 * 1024;
/** Quiet time after which a load counts as finished (lazy chunks, the land outline, API answers). */
const SETTLE_MS = 2_500;

export interface LoadFigures {
  readonly url: string;
  /** Body plus header bytes as they came over the wire, all responses of the load. */
  readonly totalBytes: number;
  /** The same for the console's own files (HTML, JS, CSS): what the budget is about. */
  readonly assetBytes: number;
  readonly files: ReadonlyArray<{
    readonly path: string;
    readonly encoding: string;
    readonly bodyBytes: number;
    readonly headerBytes: number;
  }>;
}

export interface ConsoleSizeFigures {
  readonly budgetBytes: number;
  readonly withinBudget: boolean;
  readonly overview: LoadFigures;
  /** A node page opened in a fresh browser context (cold cache), so it pays for its own chunk and uPlot. */
  readonly nodePage: LoadFigures;
}

type Page = Awaited<ReturnType<Awaited<ReturnType<typeof launchBrowser>>['newPage']>>;

async function measure(page: Page, url: string): Promise<LoadFigures> {
  const pending: Array<Promise<LoadFigures['files'][number] | undefined>> = [];
  page.on('requestfinished', (request) => {
    pending.push(
      (async () => {
        const response = await request.response();
        if (response === null) return undefined;
        const sizes = await request.sizes();
        const u = new URL(request.url());
        return {
          path: u.pathname + u.search,
          encoding: (await response.allHeaders())['content-encoding'] ?? 'identity',
          bodyBytes: sizes.responseBodySize,
          headerBytes: sizes.responseHeadersSize,
        };
      })(),
    );
  });
  await page.goto(url, { waitUntil: 'networkidle' });
  await page.waitForTimeout(SETTLE_MS);
  // The live feed (an endless event stream) never finishes: it is not counted, nor are its messages.
  const files = (await Promise.all(pending)).filter((f) => f !== undefined);
  const sum = (list: typeof files) => list.reduce((t, f) => t + f.bodyBytes + f.headerBytes, 0);
  return {
    url,
    totalBytes: sum(files),
    assetBytes: sum(files.filter((f) => f.path === '/' || f.path.startsWith('/assets/'))),
    files,
  };
}

export async function benchConsoleSize(): Promise<ConsoleSizeFigures> {
  const demo = await startDemo({ nodes: 12, sites: 6, brokerPort: 0, wsPort: 0, hubPort: 0 });
  const browser = await launchBrowser();
  try {
    // Let the fleet report, so the API answers are their usual size.
    await new Promise((r) => setTimeout(r, 3_000));
    const ctx1 = await browser.newContext({ extraHTTPHeaders: { 'accept-encoding': 'gzip' } });
    const overview = await measure(await ctx1.newPage(), demo.consoleUrl);
    await ctx1.close();
    const a = demo.agents[0];
    const ctx2 = await browser.newContext({ extraHTTPHeaders: { 'accept-encoding': 'gzip' } });
    const nodePage = await measure(await ctx2.newPage(), `${demo.consoleUrl}#/nodes/${a?.identity.site}/${a?.identity.node}`);
    await ctx2.close();
    return {
      budgetBytes: CONSOLE_FIRST_LOAD_BUDGET_BYTES,
      withinBudget: overview.totalBytes <= CONSOLE_FIRST_LOAD_BUDGET_BYTES,
      overview,
      nodePage,
    };
  } finally {
    await browser.close();
    await demo.stop();
  }
}
