// Tests of Prometheus relabelling semantics.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileRelabelConfigs, type RelabelConfig, relabel, relabelConfigSchema } from './relabel.js';

const rules = (...configs: object[]) => compileRelabelConfigs(configs.map((c) => relabelConfigSchema.parse(c) as RelabelConfig));

test('relabel: keep on __name__ is fully anchored (seed 004 rule)', () => {
  const r = rules({ source_labels: ['__name__'], regex: 'victron_(battery_soc|dc_voltage|dc_current|ac_.*_l1_power)', action: 'keep' });
  assert.deepEqual(relabel({ __name__: 'victron_battery_soc' }, r), { __name__: 'victron_battery_soc' });
  assert.ok(relabel({ __name__: 'victron_ac_out_l1_power' }, r));
  assert.equal(relabel({ __name__: 'victron_battery_soc_extra' }, r), undefined);
  assert.equal(relabel({ __name__: 'x_victron_battery_soc' }, r), undefined);
  assert.equal(relabel({ __name__: 'victron_ac_in_l2_power' }, r), undefined);
});

test('relabel: drop removes matching series and keeps the rest', () => {
  const r = rules({ source_labels: ['__name__', 'device'], regex: 'go_.*;.*', action: 'drop' });
  assert.equal(relabel({ __name__: 'go_goroutines', device: 'x' }, r), undefined);
  assert.deepEqual(relabel({ __name__: 'up', device: 'x' }, r), { __name__: 'up', device: 'x' });
});

// biome-ignore lint/suspicious/noTemplateCurlyInString: Prometheus replacement syntax, not a template
test('relabel: replace joins source labels with the separator and expands $1, ${2} and named groups', () => {
  const r = rules(
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Prometheus replacement syntax, not a template
    { source_labels: ['a', 'b'], separator: '/', regex: '(\\w+)/(\\w+)', target_label: 'ab', replacement: '$1-${2}x' },
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Prometheus replacement syntax, not a template
    { source_labels: ['a'], regex: '(?<first>.)(.*)', target_label: 'initial', replacement: '${first}' },
    { source_labels: ['a'], regex: '(.*)', target_label: 'bad', replacement: '$1x' },
    { source_labels: ['missing'], regex: 'nope', target_label: 'unchanged', replacement: 'y' },
  );
  assert.deepEqual(relabel({ __name__: 'm', a: 'foo', b: 'bar' }, r), { __name__: 'm', a: 'foo', b: 'bar', ab: 'foo-barx', initial: 'f' });
});

test('relabel: replace with an empty result deletes the target, $$ is a dollar, target_label can use groups', () => {
  const r = rules(
    { source_labels: ['drop_me'], regex: '.*', target_label: 'drop_me', replacement: '' },
    { source_labels: ['k'], regex: '(.*)', target_label: 'label_$1', replacement: '$$5' },
  );
  assert.deepEqual(relabel({ __name__: 'm', drop_me: 'v', k: 'zone' }, r), { __name__: 'm', k: 'zone', label_zone: '$5' });
});

test('relabel: labelmap, labeldrop, labelkeep, lowercase and uppercase', () => {
  const r = rules(
    { regex: '__meta_(.+)', action: 'labelmap' },
    { regex: '__meta_.*', action: 'labeldrop' },
    { source_labels: ['site'], target_label: 'site_lc', action: 'lowercase' },
    { source_labels: ['site'], target_label: 'site_uc', action: 'uppercase' },
    { regex: '__name__|site_.*|rack', action: 'labelkeep' },
  );
  assert.deepEqual(relabel({ __name__: 'm', __meta_rack: 'r1', site: 'Alpha', other: 'x' }, r), {
    __name__: 'm',
    rack: 'r1',
    site_lc: 'alpha',
    site_uc: 'ALPHA',
  });
});

test('relabel: config errors name the problem', () => {
  assert.equal(relabelConfigSchema.safeParse({ action: 'replace', source_labels: ['a'] }).success, false);
  assert.equal(relabelConfigSchema.safeParse({ action: 'keep', regex: '(', source_labels: ['a'] }).success, false);
  assert.equal(relabelConfigSchema.safeParse({ action: 'keep' }).success, false);
  assert.equal(relabelConfigSchema.safeParse({ action: 'explode', source_labels: ['a'] }).success, false);
});
