// calendar: a rendered report; no clock reads its dates.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createProgress } from './progress.js';
import {
  type DesignMeasures,
  evaluateGoals,
  ISSUE_GOALS,
  renderReportMarkdown,
  renderReportPlots,
  type SimResults,
  type TimeSeries,
  writeReport,
} from './report.js';
import { renderLineChart } from './svg.js';

/** Meets every goal, several exactly at the limit. */
const GOOD: DesignMeasures = {
  onAirBps: 20_000,
  airtimeShare: 0.1,
  framesPerNodePerS: 0.5,
  payloadBytesPerNodeTick: 12.4,
  completeness: 0.999,
  ageP50Ms: 1_100,
  ageP99Ms: 2_300,
  duplicates: 0,
  detectionP50Ms: 6_100,
  detectionP99Ms: 7_900,
  detectionMaxMs: 8_200,
  falseVerdicts: 0,
  coldStartFullViewMs: 4_200,
};

/** The JSON-star baseline at 50 nodes: misses most goals, and measures no detection or cold start. */
const STAR: DesignMeasures = {
  onAirBps: 7_900_000,
  airtimeShare: 73.01,
  framesPerNodePerS: 212,
  payloadBytesPerNodeTick: 598,
  completeness: 0.99895,
  ageP50Ms: 37,
  ageP99Ms: 231,
  duplicates: 0,
  detectionP50Ms: null,
  detectionP99Ms: null,
  detectionMaxMs: null,
  falseVerdicts: 2,
  coldStartFullViewMs: null,
};

function series(n: number, f: (t: number) => number | null): TimeSeries {
  const tS = Array.from({ length: n }, (_, i) => i * 2);
  return { tS, values: tS.map(f) };
}

const RESULTS: SimResults = {
  scenario: {
    name: 'steady',
    description: '50 nodes <on one channel> & 10 % loss',
    nodes: 50,
    durationS: 60,
    warmupS: 10,
    tickMs: 2_000,
    seed: 20241123,
    loss: 0.1,
    link: 'radio 300 kbps, 1,266 us + 66 B per frame, everyone in range',
    faults: ['20 s: kill node007'],
  },
  clock: 'simulated',
  startedAt: '2026-01-01T00:00:00.000Z',
  wallSeconds: 3.21,
  designs: [
    {
      name: 'fieldmesh udp',
      measures: GOOD,
      series: {
        onAirBytesPerS: series(31, (t) => 2_400 + 30 * Math.sin(t)),
        completeness: series(31, (t) => (t < 4 ? null : 0.9995)),
        ageP99Ms: series(31, (t) => 2_000 + 10 * t),
      },
    },
    {
      name: 'json-star baseline | <json>',
      measures: STAR,
      series: { onAirBytesPerS: series(31, () => 987_500), completeness: series(31, () => 1), ageP99Ms: series(31, () => 231) },
      notes: ['bytes from the model of research section 2e'],
    },
  ],
};

function tableRow(md: string, label: string): string[] {
  const line = md.split('\n').find((l) => l.startsWith(`| ${label} |`));
  assert.ok(line !== undefined, `row ${label}`);
  return line
    .split(/(?<!\\)\|/)
    .slice(1, -1)
    .map((c) => c.trim());
}

test('report: the table marks each goal met or not met per design, limits included, unmeasured as a dash', () => {
  const md = renderReportMarkdown(RESULTS);
  assert.match(md, /^\| measure \| fieldmesh udp \| json-star baseline \\\| &lt;json&gt; \| goal \|$/m);
  assert.deepEqual(tableRow(md, 'On air, whole fleet (incl. IP/UDP/MAC headers)'), [
    'On air, whole fleet (incl. IP/UDP/MAC headers)',
    '20.0 kbps ✓ met',
    '7.90 Mbps ✗ not met',
    '≤ 20 kbps',
  ]);
  assert.deepEqual(tableRow(md, 'Airtime of one 1 MHz MCS0 channel').slice(1), ['10.0 % ✓ met', '7,301 % ✗ not met', '≤ 10 %']);
  assert.deepEqual(tableRow(md, 'Frames on air per node per second').slice(1), ['0.500 ✓ met', '212 ✗ not met', '≤ 0.5']);
  assert.deepEqual(tableRow(md, 'Payload per node-tick').slice(1), ['12.4 B ✓ met', '598 B ✗ not met', '≤ 16 B']);
  // 99.895 % is shown rounded down, so the number agrees with its mark.
  assert.deepEqual(tableRow(md, 'Completeness (fresh values held)').slice(1), ['99.90 % ✓ met', '99.89 % ✗ not met', '≥ 99.9 %']);
  assert.deepEqual(tableRow(md, 'Age of latest value at farthest node, p99').slice(1), ['2.30 s', '0.231 s', '']);
  assert.deepEqual(tableRow(md, 'Failure detection by all survivors, p99').slice(1), ['7.90 s ✓ met', '—', '≤ 8 s']);
  assert.deepEqual(tableRow(md, 'Failure detection by all survivors, max').slice(1), ['8.20 s', '—', '']);
  assert.deepEqual(tableRow(md, 'False failure verdicts').slice(1), ['0 ✓ met', '2 ✗ not met', '0']);
  assert.deepEqual(tableRow(md, 'Cold start to full view').slice(1), ['4.20 s ✓ met', '—', '≤ 10 s']);
  assert.match(md, /- fieldmesh udp: 8 of 8 judged/);
  assert.match(md, /- json-star baseline \| &lt;json&gt;: 0 of 6 judged \(2 not measured\)/);
  assert.match(md, /^50 nodes &lt;on one channel&gt; & 10 % loss$/m);
  assert.match(md, /1,266 us/);
});

test('report: goals just past their limit are not met, and the shown value says so', () => {
  const near: DesignMeasures = { ...GOOD, onAirBps: 20_040, completeness: 0.99899, detectionP99Ms: 8_001, airtimeShare: 0.1001 };
  assert.deepEqual(evaluateGoals(near), {
    onAirBps: 'not met',
    airtimeShare: 'not met',
    framesPerNodePerS: 'met',
    payloadBytesPerNodeTick: 'met',
    completeness: 'not met',
    detectionP99Ms: 'not met',
    falseVerdicts: 'met',
    coldStartFullViewMs: 'met',
  });
  const md = renderReportMarkdown({ ...RESULTS, designs: [{ name: 'near', measures: near, series: {} }] });
  assert.equal(tableRow(md, 'On air, whole fleet (incl. IP/UDP/MAC headers)')[1], '20.1 kbps ✗ not met');
  assert.equal(tableRow(md, 'Airtime of one 1 MHz MCS0 channel')[1], '10.1 % ✗ not met');
  assert.equal(tableRow(md, 'Completeness (fresh values held)')[1], '99.89 % ✗ not met');
  assert.equal(tableRow(md, 'Failure detection by all survivors, p99')[1], '8.01 s ✗ not met');
  assert.equal(ISSUE_GOALS.length, 8);
});

/** A minimal XML well-formedness check: tags nest and close, attributes are quoted, entities known. */
function assertWellFormedXml(xml: string): { root: string; elements: Map<string, number> } {
  const stack: string[] = [];
  const elements = new Map<string, number>();
  let root = '';
  const text = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->|([^<]+)|(<)/g;
  for (let m = token.exec(text); m !== null; m = token.exec(text)) {
    const [, closing, name, , selfClosing, chars, stray] = m;
    if (stray !== undefined) assert.fail(`stray "<" at ${m.index}: ${text.slice(m.index, m.index + 40)}`);
    if (chars !== undefined) {
      if (stack.length === 0) assert.match(chars, /^\s*$/, 'text outside the root element');
      for (const entity of chars.match(/&[^;\s]*;?/g) ?? []) assert.match(entity, /^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);$/i);
      continue;
    }
    if (name === undefined) continue;
    if (closing === '/') {
      assert.equal(stack.pop(), name, `</${name}> closes the open element`);
      continue;
    }
    if (stack.length === 0) {
      assert.equal(root, '', 'one root element');
      root = name;
    }
    elements.set(name, (elements.get(name) ?? 0) + 1);
    for (const attr of m[3]?.match(/"[^"]*"/g) ?? []) {
      for (const entity of attr.match(/&[^;\s"]*;?/g) ?? []) assert.match(entity, /^&(amp|lt|gt|quot|apos);$/);
    }
    if (selfClosing !== '/') stack.push(name);
  }
  assert.deepEqual(stack, [], 'every element closed');
  return { root, elements };
}

test('report: the SVG plots are well-formed XML with axes, one line and one legend entry per design', () => {
  const plots = renderReportPlots(RESULTS);
  assert.deepEqual(
    plots.map((p) => p.file),
    ['bytes-per-second.svg', 'completeness.svg', 'age-p99.svg'],
  );
  for (const plot of plots) {
    const { root, elements } = assertWellFormedXml(plot.svg);
    assert.equal(root, 'svg');
    assert.match(plot.svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.ok((elements.get('polyline') ?? 0) >= 2, `${plot.file}: a line per design`);
    assert.ok((elements.get('text') ?? 0) > 10, `${plot.file}: tick labels`);
    assert.ok(plot.svg.includes('json-star baseline | &lt;json&gt;'), `${plot.file}: legend escaped`);
  }
  // 2.4 kB/s beside 988 kB/s: the byte plot switches to a log scale so both lines are readable.
  assert.match(plots[0]?.svg ?? '', /log scale/);
  assert.doesNotMatch(plots[2]?.svg ?? '', /log scale/);
});

test('report: a chart with gaps, a single point and no data at all is still well-formed', () => {
  const svg = renderLineChart({
    title: 'gaps & <dots>',
    xLabel: 'x',
    yLabel: 'y',
    series: [
      {
        name: 'a',
        points: [
          [0, 1],
          [1, null],
          [2, 3],
          [3, 4],
          [4, null],
          [5, 2],
        ],
      },
      { name: 'empty', points: [] },
    ],
  });
  const { elements } = assertWellFormedXml(svg);
  assert.equal(elements.get('polyline'), 1);
  assert.equal(elements.get('circle'), 2);
  assertWellFormedXml(renderLineChart({ title: 'nothing', xLabel: 'x', yLabel: 'y', series: [] }));
});

test('report: writeReport puts report.json, report.md and the SVG plots into the directory', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'fm-report-')), 'out');
  const written = await writeReport(RESULTS, dir);
  assert.equal(written.json, join(dir, 'report.json'));
  const json = JSON.parse(readFileSync(written.json, 'utf8')) as { designs: unknown[]; verdicts: Record<string, Record<string, string>> };
  assert.equal(json.designs.length, 2);
  assert.equal(json.verdicts['fieldmesh udp']?.completeness, 'met');
  assert.equal(json.verdicts['json-star baseline | <json>']?.coldStartFullViewMs, 'n/a');
  const md = readFileSync(written.markdown, 'utf8');
  for (const file of written.plots) {
    const name = file.slice(dir.length + 1);
    assert.match(md, new RegExp(`\\]\\(${name.replace('.', '\\.')}\\)`));
    assertWellFormedXml(readFileSync(file, 'utf8'));
  }
  assert.equal(written.plots.length, 3);
});

test('progress: without a terminal a line every 10 %, on a terminal one redrawn line with percent and ETA', () => {
  let clock = 0;
  const out: string[] = [];
  const plain = createProgress({
    totalMs: 60_000,
    label: 'steady',
    stream: { write: (t: string) => out.push(t) },
    tty: false,
    now: () => clock,
  });
  for (let sim = 0; sim <= 60_000; sim += 2_000) {
    clock += 100;
    plain.update(sim);
  }
  plain.done();
  assert.deepEqual(
    out.map((l) => /: (\d+)%/.exec(l)?.[1]),
    ['0', '10', '20', '30', '40', '50', '60', '70', '80', '90', '100'],
  );
  assert.match(out[5] ?? '', /^sim steady: 50% \(30\.0\/60\.0 s simulated, 2 s elapsed, ETA 2 s\)\n$/);

  const screen: string[] = [];
  clock = 0;
  const bar = createProgress({ totalMs: 10_000, stream: { write: (t: string) => screen.push(t), isTTY: true }, now: () => clock });
  clock = 1_000;
  bar.update(2_500);
  clock = 1_050;
  bar.update(2_600);
  bar.done();
  assert.equal(screen.length, 3, 'the redraw at 50 ms is skipped; done draws 100 % and ends the line');
  const erase = '\r\u001b[2K';
  assert.ok(screen[0]?.startsWith(erase), 'returns to the line start and erases it');
  assert.equal(screen[0]?.slice(erase.length), `sim [${'#'.repeat(6)}${'.'.repeat(18)}]  25% 2.5/10.0 s simulated, ETA 3 s`);
  assert.match(screen[1] ?? '', /100%/);
  assert.equal(screen[2], '\n');
});
