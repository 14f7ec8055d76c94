#!/usr/bin/env node
// The fieldmesh command line: broker | node | hub | demo | status | sim | query | pub | sub | zone | config.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { FIELDMESH_VERSION } from '../protocol/index.js';
import { registerBroker } from './broker.js';
import { registerCmd } from './cmd.js';
import { registerConfig } from './config.js';
import { registerDemo } from './demo.js';
import { registerGet } from './get.js';
import { registerHub } from './hub.js';
import { type CliIo, errorText, exitCodeFor, processIo } from './io.js';
import { registerNode } from './node.js';
import { registerPki } from './pki.js';
import { registerPub } from './pub.js';
import { registerQuery } from './query.js';
import { registerSim } from './sim.js';
import { registerStatus } from './status.js';
import { registerSub } from './sub.js';
import { registerZone } from './zone.js';

export function createProgram(io: CliIo = processIo): Command {
  const program = new Command('fieldmesh')
    .description('keeps a fleet of edge computers aware of each other and of a hub over slow, unreliable links')
    .version(FIELDMESH_VERSION, '-V, --version')
    .showHelpAfterError(false)
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  registerBroker(program, io);
  registerNode(program, io);
  registerHub(program, io);
  registerDemo(program, io);
  registerStatus(program, io);
  registerSim(program, io);
  registerQuery(program, io);
  registerPub(program, io);
  registerSub(program, io);
  registerZone(program, io);
  registerConfig(program, io);
  registerCmd(program, io);
  registerGet(program, io);
  registerPki(program, io);
  return program;
}

export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const program = createProgram(io).exitOverride();
  for (const cmd of program.commands) cmd.exitOverride();
  // Commands report a non-error outcome (status: some node offline) through process.exitCode.
  const previous = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    io.err(errorText(err));
    return exitCodeFor(err);
  } finally {
    process.exitCode = previous;
  }
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).then(
    // Exit explicitly: a service that stopped on a signal must not linger on a stray handle.
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${errorText(err)}\n`);
      process.exitCode = 1;
    },
  );
}
