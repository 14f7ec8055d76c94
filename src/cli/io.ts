// Output and exit codes of the CLI: one clear line per error, exit codes by error code.

import { type ErrorCode, FieldmeshError, isFieldmeshError } from '../kit/index.js';

export interface CliIo {
  /** A line of text to standard output (a newline is added unless it ends with one). */
  out(text: string): void;
  err(text: string): void;
  /** Bytes to standard output exactly as given, nothing added (sub's raw payloads); standard output when absent. */
  bytes?(chunk: Uint8Array): void;
}

/** Writes bytes to the process's standard output as they are. */
export function writeStdout(chunk: Uint8Array): void {
  process.stdout.write(chunk);
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  bytes: writeStdout,
};

/** Exit codes: 2 for bad usage or configuration (as config validators do), 1 for anything else. */
export function exitCodeFor(err: unknown): number {
  if (!isFieldmeshError(err)) return 1;
  const usage: readonly ErrorCode[] = ['FM_CONFIG_INVALID', 'FM_CONFIG_UNREADABLE', 'FM_CLI_USAGE'];
  return usage.includes(err.code) ? 2 : 1;
}

/** The message to print for an error: every line of a config error, one line otherwise. */
export function errorText(err: unknown): string {
  if (err instanceof FieldmeshError) {
    const lines = err.message.split('\n');
    return lines.length > 1
      ? `error: ${err.code}: invalid configuration\n${lines.map((l) => `  ${l}`).join('\n')}`
      : `error: ${err.code}: ${err.message}`;
  }
  return `error: ${err instanceof Error ? err.message : String(err)}`;
}
