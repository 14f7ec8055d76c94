// Acknowledge and silence an alert: small modal forms (native <dialog>, Esc closes) that say exactly
// what will be sent, and show the hub's refusal inline.

import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError, seg } from '../api.js';
import { actor } from '../roles.js';
import { refreshAlerts, store } from '../store.js';
import type { AlertInfo } from '../types.js';
import { ErrorLine } from './ui.js';

export type AlertDialog = { readonly kind: 'ack' | 'silence'; readonly alert: AlertInfo } | null;

const DURATIONS = ['1h', '4h', '12h', '24h', '3d', '7d'] as const;
/** Labels that usually identify what to silence; others start unticked. */
const DEFAULT_MATCH = new Set(['alertname', 'site', 'node']);

export function AlertDialogs({ dialog, onClose }: { dialog: AlertDialog; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [comment, setComment] = useState('');
  const [duration, setDuration] = useState<string>('4h');
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const d = ref.current;
    if (d === null) return;
    if (dialog !== null) {
      setComment('');
      setError(null);
      setPicked(new Set(Object.keys(dialog.alert.labels).filter((k) => DEFAULT_MATCH.has(k))));
      if (!d.open) d.showModal();
    } else if (d.open) d.close();
  }, [dialog]);

  if (dialog === null) return <dialog ref={ref} class="modal" />;
  const a = dialog.alert;
  const name = a.labels.alertname ?? a.rule ?? 'alert';

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (dialog.kind === 'ack') {
        await api.post(`/api/v1/alerts/${seg(a.fingerprint)}/ack`, { by: actor(store.me), comment: comment.trim() });
      } else {
        const matchers = Object.entries(a.labels)
          .filter(([k]) => picked.has(k))
          .map(([k, v]) => ({ name: k, value: v, isRegex: false, isEqual: true }));
        if (matchers.length === 0) throw new Error('tick at least one label to match');
        await api.post('/api/v1/silences', { matchers, duration, createdBy: actor(store.me), comment: comment.trim() });
        store.silencesVersion++;
      }
      await refreshAlerts();
      onClose();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={ref} class="modal" onClose={onClose} aria-labelledby="dlg-title">
      <form onSubmit={submit} data-testid={dialog.kind === 'ack' ? 'ack-form' : 'silence-form'}>
        <h2 id="dlg-title">
          {dialog.kind === 'ack' ? 'Acknowledge' : 'Silence'} {name}
        </h2>
        <p class="muted">
          {dialog.kind === 'ack'
            ? 'Says someone is on it. It keeps firing and notifying until it resolves or is silenced.'
            : 'A silence stops notifications for every alert matching the ticked labels until it ends.'}
        </p>
        {dialog.kind === 'silence' && (
          <>
            <fieldset class="matchers">
              <legend>Match alerts with</legend>
              {Object.entries(a.labels).map(([k, v]) => (
                <label key={k}>
                  <input
                    type="checkbox"
                    checked={picked.has(k)}
                    onChange={(e) => {
                      const next = new Set(picked);
                      if ((e.target as HTMLInputElement).checked) next.add(k);
                      else next.delete(k);
                      setPicked(next);
                    }}
                  />{' '}
                  <code>
                    {k}="{v}"
                  </code>
                </label>
              ))}
            </fieldset>
            <label class="field">
              For{' '}
              <select value={duration} onChange={(e) => setDuration((e.target as HTMLSelectElement).value)}>
                {DURATIONS.map((d) => (
                  <option key={d} value={d}>
                    {d}
                  </option>
                ))}
              </select>
            </label>
          </>
        )}
        <label class="field">
          Comment{dialog.kind === 'silence' ? ' (required)' : ''}
          <textarea
            rows={2}
            value={comment}
            required={dialog.kind === 'silence'}
            onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)}
            placeholder={dialog.kind === 'ack' ? 'e.g. technician on the way' : 'e.g. planned maintenance'}
          />
        </label>
        <ErrorLine error={error} />
        <div class="buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy} data-testid="dialog-confirm">
            {busy ? 'Sending…' : dialog.kind === 'ack' ? 'Acknowledge' : `Silence for ${duration}`}
          </button>
        </div>
      </form>
    </dialog>
  );
}
