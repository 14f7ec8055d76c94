// `fieldmesh hub` with OpenTelemetry's standard variables (docs/tracing.md): OTEL_EXPORTER_OTLP_ENDPOINT turns traces on
// and OTEL_SERVICE_NAME names the service; a history frame's spans reach the collector by the time the process, stopped
// with SIGTERM, has exited (the provider is flushed at stop).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { commandTopic, encodeHistory, nodeTopic } from '../../src/protocol/index.js';
import { createMqttTransport } from '../../src/transport/index.js';
import { runFieldmesh, writeHubConfig } from '../kit/fieldmesh-process.js';
import { startMosquitto } from '../kit/mosquitto.js';
import { startOtlpReceiver } from '../kit/otlp-receiver.js';
import { waitFor } from '../kit/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'fm-tracing-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('fieldmesh hub: OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME turn traces on; the spans are exported before the process exits', async () => {
  const [mosquitto, receiver] = await Promise.all([startMosquitto(), startOtlpReceiver()]);
  const hub = runFieldmesh(['hub', '--config', await writeHubConfig(dir, mosquitto.url)], {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_SERVICE_NAME: 'hub-e2e',
  });
  const node = createMqttTransport({ url: mosquitto.url, clientId: 'rig-1' });
  try {
    await hub.waitForOutput(/console http/);
    const acks: Uint8Array[] = [];
    node.start();
    await node.subscribe(commandTopic('fieldmesh', 'lab', 'rig-1', 'ack'), (m) => acks.push(m.payload), { qos: 1 }).ready;
    const now = Date.now();
    await node.publish(
      nodeTopic('fieldmesh', 'lab', 'rig-1', 'history'),
      encodeHistory({
        epoch: 2,
        zone: 'z1',
        firstSeq: 7,
        lastSeq: 7,
        pendingRows: 0,
        oldestPendingMs: null,
        pendingBytes: 0,
        dropped: [],
        repaired: [],
        series: [{ name: 'probe_value', labels: {}, type: 'gauge', unit: '', samples: [[now - 1000, 1]] }],
      }),
      { qos: 1 },
    );
    await waitFor(() => acks.length === 1, { what: 'the ack', timeoutMs: 10_000 });
    hub.kill('SIGTERM');
    assert.equal(await hub.exited(), 0);
    assert.deepEqual(receiver.refused, []);
    assert.deepEqual(receiver.spans.map((s) => s.name).sort(), ['INSERT samples', 'receive history', 'send ack']);
    for (const s of receiver.spans) assert.equal(s.resource['service.name'], 'hub-e2e');
    assert.equal(receiver.spans.find((s) => s.name === 'receive history')?.attributes['fieldmesh.node'], 'rig-1');
  } finally {
    await node.close().catch(() => {});
    hub.kill('SIGKILL');
    await Promise.all([mosquitto.stop(), receiver.stop()]);
  }
});
