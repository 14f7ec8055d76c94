// Which alerts changed since the last look, for the live feed's `alert` messages: state, acknowledgement,
// silencing and inhibition (a silence that starts or ends on its own counts too); an alert the engine no longer
// lists goes out once more with `removed: true`.

import type { AlertView, LiveAlertMessage } from '../../../protocol/index.js';

/** What an `alert` message is sent for; the value and annotations move at every evaluation and do not count. */
function changeKey(a: AlertView): string {
  return JSON.stringify([a.state, a.firedAt, a.resolvedAt, a.ack, a.silencedBy, a.inhibitedBy]);
}

export class AlertChanges {
  private readonly last = new Map<string, { key: string; view: AlertView }>();

  /** `current`: every alert the engine lists now (pending, firing, resolved). */
  take(current: readonly AlertView[]): LiveAlertMessage[] {
    const out: LiveAlertMessage[] = [];
    const seen = new Set<string>();
    for (const view of current) {
      const id = `${view.rule}\u0000${view.fingerprint}`;
      seen.add(id);
      const key = changeKey(view);
      if (this.last.get(id)?.key === key) continue;
      this.last.set(id, { key, view });
      out.push(view);
    }
    for (const [id, { view }] of this.last) {
      if (seen.has(id)) continue;
      this.last.delete(id);
      out.push({ ...view, removed: true });
    }
    return out;
  }
}
