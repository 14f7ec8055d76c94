// Two api processes of a scale-out hub on one PostgreSQL (docs/scale-out.md "Shared stores"): a silence made through
// the follower mutes the leader's notifications within moments (the alert store's NOTIFY, not the leader's next
// start), its expiry through the follower lets the leader notify again, an acknowledgement made through the follower
// reaches the leader and survives its next evaluation, and the follower lists the leader's alerts. Real Mosquitto,
// nats-server and PostgreSQL started by the test on free ports; a webhook receiver on a free port.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startMosquitto } from '../../../test/kit/mosquitto.js';
import { startNatsServer } from '../../../test/kit/nats.js';
import { startPostgres } from '../../../test/kit/postgres.js';
import { waitFor } from '../../../test/kit/wait.js';
import type { WebhookPayload } from '../alerts/index.js';
import { hubConfigSchema } from '../config.js';
import type { Hub } from '../hub.js';
import { openHub } from '../open-hub.js';
import { createPostgresStorage } from '../storage/postgres/postgres-storage.js';

/** How soon the leader must apply what the follower did: "a few seconds at most" (the notice takes milliseconds). */
const PROMPTLY_MS = 3_000;

test('scale-out alerts: silences and acknowledgements made through a follower take effect at the leader at once; the follower lists the leader’s alerts', async () => {
  const mosquitto = await startMosquitto();
  const nats = await startNatsServer();
  const pg = await startPostgres();
  const payloads: WebhookPayload[] = [];
  const webhook = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      payloads.push(JSON.parse(body) as WebhookPayload);
      res.end();
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  const hubs: Hub[] = [];
  const dirs: string[] = [];
  try {
    const url = await pg.createDatabase();
    const rules = mkdtempSync(join(tmpdir(), 'fm-shared-alerts-rules-'));
    dirs.push(rules);
    writeFileSync(
      join(rules, 'levels.yaml'),
      'groups:\n  - name: levels\n    rules:\n      - alert: LevelHigh\n        expr: test_level > 0\n',
    );
    const open = async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'fm-shared-alerts-'));
      dirs.push(dataDir);
      const hub = await openHub(
        hubConfigSchema.parse({
          dataDir,
          mqtt: { url: mosquitto.url },
          storage: { path: join(dataDir, 'hub.db'), url },
          queue: { url: nats.urls.join(',') },
          roles: ['api'],
          leader: { lease: '3s' },
          auth: { mode: 'off' },
          alerts: {
            evaluationInterval: '500ms',
            ruleFiles: [join(rules, 'levels.yaml')],
            webhooks: [{ url: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/` }],
          },
        }),
      );
      hubs.push(hub);
      await hub.start({ listen: false });
      return hub;
    };
    const leader = await open();
    const follower = await open();
    assert.ok(leader.stats().epoch > 0, 'the first process leads');
    assert.equal(follower.stats().epoch, 0, 'the second follows');
    const leading = leader.alerts;
    assert.ok(leading !== undefined);

    // A silence made through the follower, before anything fires: the leader applies it within moments.
    const made = await follower.app.inject({
      method: 'POST',
      url: '/api/v1/silences',
      payload: { matchers: [{ name: 'site', value: 'quiet' }], duration: '1h', createdBy: 'ops', comment: 'maintenance' },
    });
    assert.equal(made.statusCode, 200, made.body);
    const silenceId = made.json().silenceID as string;
    await waitFor(() => leading.silencedBy({ alertname: 'LevelHigh', site: 'quiet' }).includes(silenceId), {
      what: 'the leader to apply the silence made through the follower',
      timeoutMs: PROMPTLY_MS,
    });

    // Both sites' levels rise at once: the leader fires both and notifies only the unsilenced one.
    const storage = await createPostgresStorage({ url, poolSize: 1, retentionMs: 86_400_000 });
    try {
      await storage.appendSamples(
        ['quiet', 'loud'].map((site) => ({
          series: { name: 'test_level', labels: { site }, unit: '', type: 'gauge' as const },
          ts: Date.now(),
          value: 1,
        })),
      );
    } finally {
      await storage.close();
    }
    await waitFor(() => leading.list(['firing']).length === 2, { what: 'both alerts firing at the leader', timeoutMs: 10_000 });
    await leading.idle();
    const notifiedSites = () => payloads.flatMap((p) => p.alerts.filter((a) => a.status === 'firing').map((a) => a.labels.site));
    assert.deepEqual(notifiedSites(), ['loud'], 'the silenced alert notified nobody');
    const [quiet] = leading.list(['firing']).filter((s) => s.alert.labels.site === 'quiet');
    assert.deepEqual(quiet?.silencedBy, [silenceId]);

    // The follower lists the leader's alerts (from the shared store), silenced as the leader sees them.
    const listed = await waitFor(
      async () => {
        const alerts = (await follower.app.inject('/api/v1/alerts')).json().data.alerts as Array<Record<string, unknown>>;
        return alerts.length === 2 && alerts.every((a) => a.state === 'firing') ? alerts : undefined;
      },
      { what: 'the follower to list both firing alerts', timeoutMs: PROMPTLY_MS },
    );
    const bySite = (site: string) => listed.find((a) => (a.labels as Record<string, string>).site === site);
    assert.equal(bySite('quiet')?.silenced, true);
    assert.equal(bySite('loud')?.silenced, false);

    // An acknowledgement through the follower reaches the leader, and the leader's next evaluations keep it.
    const loudFp = bySite('loud')?.fingerprint as string;
    const acked = await follower.app.inject({ method: 'POST', url: `/api/v1/alerts/${loudFp}/ack`, payload: { by: 'ana' } });
    assert.equal(acked.statusCode, 200, acked.body);
    await waitFor(() => leading.find(loudFp)[0]?.alert.ack?.by === 'ana', {
      what: 'the leader to hold the acknowledgement made through the follower',
      timeoutMs: PROMPTLY_MS,
    });
    const evaluatedAt = leading.ruleHealth().find((h) => h.rule.name === 'LevelHigh')?.lastEvaluation ?? 0;
    await waitFor(() => (leading.ruleHealth().find((h) => h.rule.name === 'LevelHigh')?.lastEvaluation ?? 0) > evaluatedAt, {
      what: 'another evaluation at the leader',
    });
    await leading.idle();
    const again = (await follower.app.inject(`/api/v1/alerts/${loudFp}`)).json().data.alerts[0];
    assert.equal(again.ack?.by, 'ana', 'the evaluation after the acknowledgement did not undo it');

    // The silence expired through the follower: the leader notifies the still-firing alert at its next evaluation.
    const expired = await follower.app.inject({ method: 'DELETE', url: `/api/v1/silences/${silenceId}` });
    assert.equal(expired.statusCode, 200, expired.body);
    await waitFor(() => notifiedSites().includes('quiet'), {
      what: 'the leader to notify the alert the expired silence held back',
      timeoutMs: PROMPTLY_MS,
    });
  } finally {
    for (const hub of hubs) await hub.stop().catch(() => {});
    await new Promise((resolve) => webhook.close(resolve));
    await pg.stop();
    await nats.stop();
    await mosquitto.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
