// The Transport contract: one suite every implementation (memory, Aedes, Mosquitto) must pass.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { type BackoffOptions, isFieldmeshError } from '../../src/kit/index.js';
import { createMqttTransport, type Transport, type TransportMessage, type Will } from '../../src/transport/index.js';
import { once, waitFor } from '../kit/wait.js';

/** Fast reconnects so the broker-restart test takes milliseconds, not seconds. */
export const TEST_BACKOFF: BackoffOptions = { initialMs: 20, maxMs: 200, factor: 2, jitter: 0.5 };

export interface TransportFactoryOptions {
  readonly clientId: string;
  readonly will?: Will;
}

export interface ContractTarget {
  /** A new, not yet started transport to the target broker. */
  create(options: TransportFactoryOptions): Transport;
  /** Stops the broker and starts it again at the same address (sessions and retained state may go). */
  restartBroker(): Promise<void>;
  teardown(): Promise<void>;
}

/** A target for an MQTT broker reachable at `url`, using MqttTransport. */
export function mqttTarget(url: string, control: Pick<ContractTarget, 'restartBroker' | 'teardown'>): ContractTarget {
  return {
    create: (o) => createMqttTransport({ url, clientId: o.clientId, ...(o.will ? { will: o.will } : {}), backoff: TEST_BACKOFF }),
    ...control,
  };
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** Every byte value, so any text decoding or truncation on the path shows up. */
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

export function runTransportContract(name: string, setup: () => Promise<ContractTarget>): void {
  describe(`transport contract: ${name}`, () => {
    let target: ContractTarget;
    let open: Transport[] = [];
    let seq = 0;

    before(async () => {
      target = await setup();
    });
    after(async () => {
      await target?.teardown();
    });
    afterEach(async () => {
      await Promise.all(open.map((t) => t.close({ graceful: true }).catch(() => {})));
      open = [];
    });

    /** A unique topic root per test, so retained messages of one test never leak into another. */
    function root(): string {
      seq++;
      return `contract/${process.pid}-${seq}`;
    }

    function make(id: string, will?: Will): Transport {
      const t = target.create({ clientId: `${id}-${process.pid}-${seq}`, ...(will ? { will } : {}) });
      open.push(t);
      return t;
    }

    async function connect(id: string, will?: Will): Promise<Transport> {
      const t = make(id, will);
      const connected = once(t, 'connected', { what: `${id} connected`, timeoutMs: 10_000 });
      t.start();
      await connected;
      assert.equal(t.connected, true);
      return t;
    }

    function inbox(t: Transport): TransportMessage[] {
      const got: TransportMessage[] = [];
      t.on('message', (m) => got.push(m));
      return got;
    }

    test('transport connects and round-trips binary payloads byte-exact with QoS 0 and 1', async () => {
      const r = root();
      const sub = await connect('sub');
      const got = inbox(sub);
      await sub.subscribe(`${r}/bin`, 1);
      const pub = await connect('pub');
      await pub.publish(`${r}/bin`, ALL_BYTES, { qos: 0 });
      await pub.publish(`${r}/bin`, bytes(0, 0xff, 0, 0x80), { qos: 1 });
      await pub.publish(`${r}/bin`, new Uint8Array(0), { qos: 1 });
      await waitFor(() => got.length >= 3, { what: 'three messages at the subscriber' });
      assert.deepEqual([...(got[0]?.payload ?? [])], [...ALL_BYTES]);
      assert.deepEqual([...(got[1]?.payload ?? [])], [0, 0xff, 0, 0x80]);
      assert.equal(got[2]?.payload.length, 0);
      assert.ok(got.every((m) => m.topic === `${r}/bin` && m.retain === false));
    });

    test('transport delivers by single- and multi-level wildcard filters', async () => {
      const r = root();
      const plus = await connect('plus');
      const hash = await connect('hash');
      const plusGot = inbox(plus);
      const hashGot = inbox(hash);
      await plus.subscribe(`${r}/+/data`, 0);
      await hash.subscribe(`${r}/s1/#`, 0);
      const pub = await connect('pub');
      for (const topic of [`${r}/s1/data`, `${r}/s2/data`, `${r}/s1/n1/data`, `${r}/s1`, `${r}/end`]) {
        await pub.publish(topic, bytes(1), { qos: 1 });
      }
      await pub.publish(`${r}/s1/end`, bytes(2), { qos: 1 });
      await pub.publish(`${r}/end/data`, bytes(2), { qos: 1 });
      await waitFor(() => plusGot.some((m) => m.topic === `${r}/end/data`), { what: '+ subscriber end marker' });
      await waitFor(() => hashGot.some((m) => m.topic === `${r}/s1/end`), { what: '# subscriber end marker' });
      assert.deepEqual(
        plusGot.map((m) => m.topic),
        [`${r}/s1/data`, `${r}/s2/data`, `${r}/end/data`],
      );
      assert.deepEqual(
        hashGot.map((m) => m.topic),
        [`${r}/s1/data`, `${r}/s1/n1/data`, `${r}/s1`, `${r}/s1/end`],
      );
    });

    test('transport delivers a retained message to a late subscriber with the retain flag', async () => {
      const r = root();
      const pub = await connect('pub');
      await pub.publish(`${r}/state`, bytes(7, 7), { qos: 1, retain: true });
      const late = await connect('late');
      const got = inbox(late);
      await late.subscribe(`${r}/#`, 1);
      await waitFor(() => got.length >= 1, { what: 'retained message at the late subscriber' });
      assert.equal(got[0]?.topic, `${r}/state`);
      assert.deepEqual([...(got[0]?.payload ?? [])], [7, 7]);
      assert.equal(got[0]?.retain, true);
      // Clear it so a broker shared across suites stays clean.
      await pub.publish(`${r}/state`, new Uint8Array(0), { qos: 1, retain: true });
    });

    test('transport will is published on an ungraceful drop and not on a graceful close', async () => {
      const r = root();
      const watcher = await connect('watcher');
      const got = inbox(watcher);
      await watcher.subscribe(`${r}/will/#`, 1);
      const polite = await connect('polite', { topic: `${r}/will/polite`, payload: bytes(1), qos: 1, retain: false });
      const crash = await connect('crash', { topic: `${r}/will/crash`, payload: bytes(0xde, 0xad), qos: 1, retain: false });
      await polite.close({ graceful: true });
      assert.equal(polite.connected, false);
      await crash.close({ graceful: false });
      await waitFor(() => got.some((m) => m.topic === `${r}/will/crash`), { what: 'the will of the crashed client' });
      const will = got.find((m) => m.topic === `${r}/will/crash`);
      assert.deepEqual([...(will?.payload ?? [])], [0xde, 0xad]);
      // The graceful close happened first, so its will would have arrived before the crash's.
      assert.equal(
        got.some((m) => m.topic === `${r}/will/polite`),
        false,
        'a graceful close must not publish the will',
      );
    });

    test('transport restores subscriptions after the broker restarts', async () => {
      const r = root();
      const sub = await connect('sub');
      const pub = await connect('pub');
      const got = inbox(sub);
      await sub.subscribe(`${r}/after`, 1);
      const subDown = once(sub, 'disconnected', { what: 'subscriber noticed the broker going away', timeoutMs: 10_000 });
      const subBack = once(sub, 'connected', { what: 'subscriber reconnected after the restart', timeoutMs: 15_000 });
      const pubBack = once(pub, 'connected', { what: 'publisher reconnected after the restart', timeoutMs: 15_000 });
      await target.restartBroker();
      await subDown;
      await Promise.all([subBack, pubBack]);
      assert.equal(sub.stats().connects, 2);
      await pub.publish(`${r}/after`, bytes(4, 2), { qos: 1 });
      await waitFor(() => got.length >= 1, { what: 'message through the restored subscription' });
      assert.deepEqual([...(got[0]?.payload ?? [])], [4, 2]);
    });

    test('transport publish rejects with FM_TRANSPORT_UNAVAILABLE while not connected', async () => {
      const r = root();
      const idle = make('idle');
      await assert.rejects(idle.publish(`${r}/x`, bytes(1), { qos: 0 }), (err) => isFieldmeshError(err, 'FM_TRANSPORT_UNAVAILABLE'));
      await assert.rejects(idle.publish(`${r}/x`, bytes(1), { qos: 1 }), (err) => isFieldmeshError(err, 'FM_TRANSPORT_UNAVAILABLE'));
      const t = await connect('closing');
      await t.close();
      await assert.rejects(t.publish(`${r}/x`, bytes(1), { qos: 1 }), (err) => isFieldmeshError(err, 'FM_TRANSPORT_UNAVAILABLE'));
    });

    test('transport byte and message counters grow with traffic', async () => {
      const r = root();
      const sub = await connect('sub');
      const got = inbox(sub);
      await sub.subscribe(`${r}/count`, 1);
      const pub = await connect('pub');
      const before = { pub: pub.stats(), sub: sub.stats() };
      assert.ok(before.pub.bytesOut > 0, 'the CONNECT counts');
      assert.ok(before.pub.bytesIn > 0, 'the CONNACK counts');
      const payload = new Uint8Array(1000).fill(9);
      for (let i = 0; i < 5; i++) await pub.publish(`${r}/count`, payload, { qos: 1 });
      await waitFor(() => got.length >= 5, { what: 'five messages at the subscriber' });
      const afterPub = pub.stats();
      const afterSub = sub.stats();
      assert.equal(afterPub.messagesOut - before.pub.messagesOut, 5);
      assert.ok(
        // The topic goes out at least once (MQTT 5 topic aliases spare the repeats).
        afterPub.bytesOut - before.pub.bytesOut >= 5 * 1000 + `${r}/count`.length,
        `bytesOut grew by ${afterPub.bytesOut - before.pub.bytesOut}`,
      );
      assert.ok(afterPub.bytesIn > before.pub.bytesIn, 'PUBACKs count as bytes in');
      assert.equal(afterSub.messagesIn - before.sub.messagesIn, 5);
      assert.ok(afterSub.bytesIn - before.sub.bytesIn >= 5 * 1000, `subscriber bytesIn grew by ${afterSub.bytesIn - before.sub.bytesIn}`);
    });
  });
}
