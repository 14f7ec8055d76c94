// A confirmation before an action that changes the world (a pump, an election): a native modal <dialog>
// (Esc cancels) that says what will happen, sends on confirm and shows the hub's refusal inline.

import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../api.js';
import { ErrorLine } from './ui.js';

export interface ConfirmRequest {
  readonly title: string;
  readonly body: ComponentChildren;
  readonly confirm: string;
  readonly danger: boolean;
  /** Sends the action; its resolution closes the dialog, its rejection shows inline. */
  readonly run: () => Promise<void>;
}

export function ConfirmDialog({ request, onClose }: { request: ConfirmRequest | null; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const d = ref.current;
    if (d === null) return;
    if (request !== null) {
      setError(null);
      setBusy(false);
      if (!d.open) d.showModal();
    } else if (d.open) d.close();
  }, [request]);

  if (request === null) return <dialog ref={ref} class="modal" />;
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await request.run();
      onClose();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} class="modal" onClose={onClose} aria-labelledby="confirm-title" data-testid="confirm-dialog">
      <form onSubmit={submit}>
        <h2 id="confirm-title">{request.title}</h2>
        <p>{request.body}</p>
        <ErrorLine error={error} />
        <div class="buttons">
          <button type="button" onClick={onClose} data-testid="dialog-cancel">
            Cancel
          </button>
          <button type="submit" class={request.danger ? 'primary danger' : 'primary'} disabled={busy} data-testid="dialog-confirm">
            {busy ? 'Sending…' : request.confirm}
          </button>
        </div>
      </form>
    </dialog>
  );
}
