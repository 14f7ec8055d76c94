// The radio latency figure's three paths on a few trials: every trial starts the pump; over the broker the
// frames pay the star (up and down again) but MAC retries hide the loss; the per-tick digest adds up to a
// tick per hop, so it is the slowest; and one seed gives one figure. [FM-ZONE-SIM-6]
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureRadioLatency } from './fire-radio.js';

test('fire radio: two agreeing cameras start the pump on every path; the digest is the slowest; seeded', async () => {
  const udp = await measureRadioLatency({ trials: 20, seed: 3, voters: 3, transport: 'udp' });
  const mqtt = await measureRadioLatency({ trials: 20, seed: 3, voters: 3, transport: 'mqtt' });
  const digest = await measureRadioLatency({ trials: 20, seed: 3, voters: 3, transport: 'mqtt-digest' });
  for (const r of [udp, mqtt, digest]) {
    assert.equal(r.notStarted, 0, r.path);
    assert.equal(r.trials, 20);
    assert.equal(r.loss, 0.1);
  }
  assert.deepEqual([udp.path, mqtt.path, digest.path], ['udp', 'mqtt', 'mqtt-digest']);
  // Through the broker: at least two hops of airtime (up and down, about 7 ms each) before the vote.
  assert.ok((mqtt.p50Ms ?? 0) >= 20, `mqtt p50 ${mqtt.p50Ms}`);
  assert.ok((mqtt.p99Ms ?? Number.POSITIVE_INFINITY) < 1_000, `mqtt p99 ${mqtt.p99Ms}`);
  // The digest waits for the broker's next tick on the way to the voters and again with their votes.
  assert.ok((digest.p50Ms ?? 0) > (mqtt.p50Ms ?? 0) + 300, `digest p50 ${digest.p50Ms}, mqtt ${mqtt.p50Ms}`);
  assert.deepEqual(await measureRadioLatency({ trials: 20, seed: 3, voters: 3, transport: 'mqtt' }), mqtt);
});
