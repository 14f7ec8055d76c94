// The relay script of docs/consensus.md ("Drivers") runs as documented through the command driver, with
// systemd's commands replaced by fakes on PATH (no systemd, no GPIO here): on, off, get, idempotent on.

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { createPumpDriver } from './pump-driver.js';

const DOC = readFileSync(new URL('../../../docs/consensus.md', import.meta.url), 'utf8');

/** Fakes of systemd-run and systemctl keeping one transient unit as a file holding its argv. */
const FAKE_SYSTEMD_RUN = `#!/bin/sh
unit=""; for a in "$@"; do case "$a" in --unit=*) unit="\${a#--unit=}";; esac; done
while [ "$#" -gt 0 ] && [ "\${1#-}" != "$1" ]; do shift; done
echo "$*" > "$FAKE_UNITS/$unit"; echo "$*" >> "$FAKE_UNITS/log"
`;
const FAKE_SYSTEMCTL = `#!/bin/sh
case "$1" in
  stop) rm -f "$FAKE_UNITS/$2";;
  is-active) [ "$2" = --quiet ] && shift; [ -f "$FAKE_UNITS/$2" ];;
  show) argv=$(cat "$FAKE_UNITS/$5"); echo "{ path=/usr/bin/gpioset ; argv[]=/usr/bin/$argv ; ignore_errors=no }";;
esac
`;

it('the documented fieldmesh-relay script drives, holds and reads a relay through the command driver', async () => {
  const script = /```sh\n(#!\/bin\/sh\n# \/usr\/local\/bin\/fieldmesh-relay[\s\S]*?)```/.exec(DOC)?.[1];
  assert.ok(script, 'docs/consensus.md has the relay script');
  const dir = mkdtempSync(join(tmpdir(), 'fm-relay-doc-'));
  try {
    for (const [name, text] of [
      ['fieldmesh-relay', script],
      ['systemd-run', FAKE_SYSTEMD_RUN],
      ['systemctl', FAKE_SYSTEMCTL],
    ] as const) {
      writeFileSync(join(dir, name), text);
      chmodSync(join(dir, name), 0o755);
    }
    const env = `PATH=${dir}:/usr/bin:/bin`;
    const relay = (arg: string) => ['env', env, `FAKE_UNITS=${dir}`, join(dir, 'fieldmesh-relay'), arg];
    const driver = createPumpDriver(
      { type: 'command', start: relay('on'), stop: relay('off'), read: relay('get'), timeout: 5000 },
      { pump: 'pump-01' },
    );
    assert.equal(await driver.read(), 'unknown', 'nothing holds the line yet');
    await driver.start();
    assert.equal(await driver.read(), 'running');
    await driver.start();
    await driver.stop();
    assert.equal(await driver.read(), 'stopped');
    assert.deepEqual(
      readFileSync(join(dir, 'log'), 'utf8').trim().split('\n'),
      ['gpioset -c gpiochip0 17=1', 'gpioset -c gpiochip0 17=0'],
      'a repeated start changed nothing',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
