// Rendering a node whose repository files use a secret's `_file` key: the path is kept for the node (which
// reads the file), the schema does not see it, and a `_file` beside its value is a problem at its file:line.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblem, parseConfigRepo, renderNode } from './index.js';

const repo = (files: Record<string, string>) => parseConfigRepo(new Map(Object.entries(files)), 'test');
const NODE = 'node: {id: r1, site: ridge, zone: crest}\n';

test('fleet-config render: a token_file of a node file is valid and distributed as a path for the node to read', () => {
  const r1 = renderNode(
    repo({
      'fleet.yaml': 'collectors:\n  - name: push\n    type: http_push\n    token_file: /run/secrets/push\n',
      'nodes/r1.yaml': `${NODE}collectors: !append\n  - name: cams\n    type: mqtt\n    password_file: /run/secrets/cams\n    topics: [{topic: x, as: event}]\n`,
    }),
    'r1',
  );
  assert.deepEqual(r1.problems, []);
  assert.deepEqual(
    (r1.config.collectors as Record<string, unknown>[]).map((c) => [c.token_file, c.password_file]),
    [
      ['/run/secrets/push', undefined],
      [undefined, '/run/secrets/cams'],
    ],
  );
  assert.deepEqual(r1.provenance['collectors[0].token_file'], { layer: 'fleet', file: 'fleet.yaml', line: 4, col: 17 });
});

test('fleet-config render: a secret and its _file in the merged config is a problem at the _file key', () => {
  const r1 = renderNode(
    repo({
      'fleet.yaml': 'collectors:\n  - name: push\n    type: http_push\n    token: from-the-fleet-file\n',
      'nodes/r1.yaml': `${NODE}collectors: !merge\n  - name: push\n    token_file: /run/secrets/push\n`,
    }),
    'r1',
  );
  assert.deepEqual(r1.problems.map(formatProblem), [
    'nodes/r1.yaml:4:17: collectors[0].token_file: give token or token_file (/run/secrets/push), not both',
  ]);
});
