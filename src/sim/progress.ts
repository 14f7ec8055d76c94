// A progress bar for simulator runs on stderr: one redrawn line on a terminal, a line per 10 % otherwise.

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ProgressOptions {
  /** Simulated milliseconds the run covers. */
  readonly totalMs: number;
  /** Shown before the bar: the scenario's name. */
  readonly label?: string;
  /** Default process.stderr. */
  readonly stream?: ProgressStream;
  /** Default: the stream's isTTY. */
  readonly tty?: boolean;
  /** Real milliseconds, for the ETA; default performance.now. */
  readonly now?: () => number;
  /** Least real time between two redraws on a terminal. Default 100 ms. */
  readonly redrawMs?: number;
}

export interface Progress {
  /** Reports how far the run has got, in simulated milliseconds since its start. */
  update(simMs: number): void;
  /** Draws 100 % and ends the line. */
  done(): void;
}

const BAR_WIDTH = 24;

/** "12 s", "3 min 20 s", "1 h 05 min". */
export function formatEta(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.max(0, Math.round(ms / 1_000));
  if (s < 60) return `${s} s`;
  if (s < 3_600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3_600)} h ${String(Math.floor((s % 3_600) / 60)).padStart(2, '0')} min`;
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? stream.isTTY === true;
  const now = options.now ?? (() => performance.now());
  const redrawMs = options.redrawMs ?? 100;
  const label = options.label === undefined ? 'sim' : `sim ${options.label}`;
  const totalMs = Math.max(1, options.totalMs);
  const startedAt = now();
  let lastDraw = Number.NEGATIVE_INFINITY;
  let lastDecile = -1;
  let finished = false;

  const describe = (simMs: number) => {
    const fraction = Math.min(1, Math.max(0, simMs / totalMs));
    const elapsed = now() - startedAt;
    const eta = fraction > 0 ? (elapsed / fraction) * (1 - fraction) : Number.POSITIVE_INFINITY;
    const times = `${(simMs / 1_000).toFixed(1)}/${(totalMs / 1_000).toFixed(1)} s simulated`;
    return { fraction, percent: Math.floor(fraction * 100), times, elapsed, eta };
  };

  const progress: Progress = {
    update(simMs) {
      if (finished) return;
      const d = describe(simMs);
      if (tty) {
        const t = now();
        if (t - lastDraw < redrawMs && d.fraction < 1) return;
        lastDraw = t;
        const filled = Math.round(d.fraction * BAR_WIDTH);
        let line = `${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(d.percent).padStart(3)}% ${d.times}, ETA ${formatEta(d.eta)}`;
        if (stream.columns !== undefined && line.length > stream.columns - 1) line = line.slice(0, Math.max(0, stream.columns - 1));
        stream.write(`\r\x1b[2K${line}`);
        return;
      }
      const decile = Math.floor(d.fraction * 10);
      if (decile <= lastDecile) return;
      lastDecile = decile;
      stream.write(`${label}: ${decile * 10}% (${d.times}, ${formatEta(d.elapsed)} elapsed, ETA ${formatEta(d.eta)})\n`);
    },
    done() {
      if (finished) return;
      if (tty) {
        lastDraw = Number.NEGATIVE_INFINITY;
        progress.update(totalMs);
        stream.write('\n');
      } else if (lastDecile < 10) {
        progress.update(totalMs);
      }
      finished = true;
    },
  };
  return progress;
}
