// Producers that push dense line-protocol samples to a node and keep what it acknowledged (204): the exact
// accounting of end-to-end durability tests. Sample values are ts - base, so a value found at another millisecond
// shows at once.

export interface PushLedger {
  readonly base: number;
  next: number;
  readonly acked: Set<number>;
  stop: boolean;
}

export function newPushLedger(base = Date.now()): PushLedger {
  return { base, next: base, acked: new Set(), stop: false };
}

/**
 * One producer: takes the next `batch` milliseconds, never ahead of the wall clock, and pushes them as
 * `<series> value=<ts - base> <ts>` to the node `url()` names, with `token`; a 204 adds them to `acked`.
 */
export async function pushLoop(
  ledger: PushLedger,
  url: () => string,
  options: { token: string; series: string; batch: number },
): Promise<void> {
  while (!ledger.stop) {
    const first = ledger.next;
    ledger.next += options.batch;
    // Timestamps keep to the wall clock: the frames the node sends at the same instants fall among them.
    const ahead = first - Date.now();
    if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
    const lines = Array.from({ length: options.batch }, (_, k) => `${options.series} value=${first + k - ledger.base} ${first + k}`);
    try {
      const res = await fetch(`${url()}/api/v2/write?org=o&bucket=b&precision=ms`, {
        method: 'POST',
        headers: { authorization: `Token ${options.token}` },
        body: lines.join('\n'),
      });
      if (res.status === 204) for (let k = 0; k < options.batch; k++) ledger.acked.add(first + k);
    } catch {
      // The node was killed under the request: not acknowledged, so nothing is owed.
    }
  }
}
