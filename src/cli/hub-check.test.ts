// `fieldmesh hub --check` loads the alert rule files with the hub's own loader: it says how many rules it
// read, and a broken or missing file fails it with file, path and line and exit 2, as a bad hub.yaml does.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { main } from './main.js';

const dir = mkdtempSync(join(tmpdir(), 'fm-cli-check-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const good = join(dir, 'good.yaml');
writeFileSync(
  good,
  `groups:
  - name: power
    rules:
      - alert: BusVoltageHigh
        expr: avg by (site) (dc_voltage) > 54
        for: 2m
        labels: {severity: warning}
      - alert: InverterHot
        expr: max by (site, node) (inverter_temp_celsius) >= 70
  - name: fleet
    rules:
      - alert: NodeSilent
        expr: fieldmesh_node_last_heard_age_seconds > 900
  - name: site-aggregates
    interval: 1m
    rules:
      - record: site:dc_voltage:avg5m
        expr: avg by (site) (avg_over_time(dc_voltage[5m]))
`,
);
const bad = join(dir, 'bad.yaml');
writeFileSync(
  bad,
  `groups:
  - name: power
    rules:
      - alert: Fine
        expr: battery_soc < 20
      - alert: Rising
        expr: holt_winters(battery_soc[5m], 0.5, 0.5) > 1
      - alert: Slow
        expr: battery_soc < 10
        for: five minutes
      - record: site:rtt:p95
        expr: quantile_over_time(0.95, rtt_ms)
`,
);

function hubYaml(name: string, ruleFiles: string[], extra = ''): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    `storage:\n  path: ${join(dir, 'hub.db')}\ndataDir: ${dir}\nalerts:\n${extra}  ruleFiles: [${ruleFiles.map((f) => JSON.stringify(f)).join(', ')}]\n`,
  );
  return file;
}

async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t: string) => out.push(t), err: (t: string) => err.push(t) });
  return { code, out, err };
}

test('hub --check loads good rule files (alerting and recording) and says how many rules in how many files; exit 0', async () => {
  const one = hubYaml('one.yaml', [good]);
  assert.deepEqual(await run(['hub', '--config', one, '--check']), {
    code: 0,
    out: [`${one}: valid (4 rules (1 recording) in 1 file)`],
    err: [],
  });
  const none = hubYaml('none.yaml', []);
  assert.deepEqual(await run(['hub', '--config', none, '--check']), { code: 0, out: [`${none}: valid`], err: [] });
});

test('hub --check with a broken rule file lists every problem with file, path and line; exit 2 as for a bad hub.yaml', async () => {
  const file = hubYaml('broken.yaml', [good, bad]);
  const r = await run(['hub', '--config', file, '--check']);
  assert.equal(r.code, 2);
  assert.deepEqual(r.out, []);
  const lines = r.err.join('\n').split('\n');
  assert.equal(lines[0], 'error: FM_CONFIG_INVALID: invalid configuration');
  assert.match(
    lines[1] as string,
    new RegExp(`^  ${bad}: groups\\[0\\]\\.rules\\[1\\]\\.expr: .*function holt_winters is not supported.* \\(line 7\\)$`),
  );
  assert.equal(lines[2], `  ${bad}: groups[0].rules[2].for: expected a duration like "5m" or "1h30m", got "five minutes" (line 10)`);
  assert.match(
    lines[3] as string,
    new RegExp(
      `^  ${bad}: groups\\[0\\]\\.rules\\[3\\]\\.expr: .*expected type range vector in call to function "quantile_over_time", got instant vector.* \\(line 12\\)$`,
    ),
  );
  assert.equal(lines.length, 4);

  // The same exit code as a hub.yaml that does not validate.
  writeFileSync(join(dir, 'invalid.yaml'), 'http: {port: "eighty"}\n');
  assert.equal((await run(['hub', '--config', join(dir, 'invalid.yaml'), '--check'])).code, 2);
});

test('hub --check with a missing rule file names it; exit 2', async () => {
  const missing = join(dir, 'missing-rules.yaml');
  const r = await run(['hub', '--config', hubYaml('missing.yaml', [good, missing]), '--check']);
  assert.deepEqual([r.code, r.err], [2, [`error: FM_CONFIG_UNREADABLE: ${missing}: no such file (alerts.ruleFiles)`]]);
});

test('hub --check with alerts disabled does not load the rule files, as the hub does not, and says so', async () => {
  const file = hubYaml('disabled.yaml', [bad], '  enabled: false\n');
  assert.deepEqual(await run(['hub', '--config', file, '--check']), {
    code: 0,
    out: [`${file}: valid (alerts.enabled is false: 1 rule file not loaded)`],
    err: [],
  });
});
