// The tail of a service's stdout and stderr: the newest `capacity` lines, each with its time and stream.
// Chunks are split into lines per stream (a partial line waits for its end); a line longer than
// MAX_LOG_LINE_CHARS is cut there, so a service printing without newlines cannot grow the ring unbounded.

export type LogStream = 'stdout' | 'stderr';

export interface LogLine {
  /** When the line was read, ms since the Unix epoch. */
  readonly time: number;
  readonly stream: LogStream;
  readonly line: string;
}

export const MAX_LOG_LINE_CHARS = 4_096;

export class LogRing {
  private lines: LogLine[] = [];
  /** Index of the oldest line once the ring is full. */
  private head = 0;
  private readonly partial: Record<LogStream, string> = { stdout: '', stderr: '' };
  private total = 0;

  constructor(private capacity: number) {}

  /** Lines written since the ring was made (kept or not). */
  get written(): number {
    return this.total;
  }

  /** Adds a chunk of output: whole lines go in, a trailing partial line waits for more. */
  write(stream: LogStream, chunk: string, time: number): void {
    let text = this.partial[stream] + chunk;
    for (;;) {
      const nl = text.indexOf('\n');
      if (nl < 0) break;
      this.push({ time, stream, line: text.slice(0, nl).replace(/\r$/, '') });
      text = text.slice(nl + 1);
    }
    while (text.length > MAX_LOG_LINE_CHARS) {
      this.push({ time, stream, line: text.slice(0, MAX_LOG_LINE_CHARS) });
      text = text.slice(MAX_LOG_LINE_CHARS);
    }
    this.partial[stream] = text;
  }

  /** Ends a stream (the process exited): its partial line becomes a line. */
  flush(time: number): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream] !== '') this.push({ time, stream, line: this.partial[stream] });
      this.partial[stream] = '';
    }
  }

  /** The newest `n` lines (all when absent), oldest first. */
  tail(n?: number): LogLine[] {
    const ordered = this.lines.length < this.capacity ? this.lines : [...this.lines.slice(this.head), ...this.lines.slice(0, this.head)];
    return n === undefined || n >= ordered.length ? [...ordered] : ordered.slice(ordered.length - Math.max(0, n));
  }

  /** Changes the capacity, keeping the newest lines. */
  resize(capacity: number): void {
    const kept = this.tail(capacity);
    this.capacity = capacity;
    this.lines = kept;
    this.head = 0;
  }

  private push(line: LogLine): void {
    this.total++;
    if (this.lines.length < this.capacity) {
      this.lines.push(line);
      return;
    }
    this.lines[this.head] = line;
    this.head = (this.head + 1) % this.capacity;
  }
}
