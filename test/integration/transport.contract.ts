// The Transport contract: one suite every implementation (memory, Aedes, Mosquitto) must pass.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { type BackoffOptions, isFieldmeshError } from '../../src/kit/index.js';
import {
  createMqttTransport,
  type MessageHandler,
  type QoS,
  type Transport,
  type TransportMessage,
  type Will,
} from '../../src/transport/index.js';
import { type CountingProxy, startCountingProxy } from '../kit/counting-proxy.js';
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
  /** A new transport whose link `drop` cuts as a lost network would (the broker stays up; the transport reconnects). */
  createDroppable(options: TransportFactoryOptions): Promise<{ transport: Transport; drop(): void }>;
  /** Stops the broker and starts it again at the same address (sessions and retained state may go). */
  restartBroker(): Promise<void>;
  teardown(): Promise<void>;
  /** False for a broker without MQTT 5 shared subscriptions (`$share/<group>/<filter>`): Aedes. Default true. */
  readonly sharedSubscriptions?: boolean;
}

/**
 * A target for an MQTT broker on 127.0.0.1:`port`, using MqttTransport; droppable transports go through a TCP
 * proxy of their own (test/kit/counting-proxy.ts) that cuts their connection.
 */
export function mqttTarget(
  port: number,
  control: Pick<ContractTarget, 'restartBroker' | 'teardown' | 'sharedSubscriptions'>,
): ContractTarget {
  const proxies: CountingProxy[] = [];
  const connect = (url: string, o: TransportFactoryOptions): Transport =>
    createMqttTransport({ url, clientId: o.clientId, ...(o.will ? { will: o.will } : {}), backoff: TEST_BACKOFF });
  return {
    create: (o) => connect(`mqtt://127.0.0.1:${port}`, o),
    async createDroppable(o) {
      const proxy = await startCountingProxy(port);
      proxies.push(proxy);
      return { transport: connect(`mqtt://127.0.0.1:${proxy.port}`, o), drop: () => proxy.cut() };
    },
    restartBroker: () => control.restartBroker(),
    ...(control.sharedSubscriptions === undefined ? {} : { sharedSubscriptions: control.sharedSubscriptions }),
    async teardown() {
      await Promise.all(proxies.map((p) => p.close()));
      await control.teardown();
    },
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

    /** What `t` receives through a subscription of `filter`, once the broker has granted it. */
    async function inbox(t: Transport, filter: string, qos: QoS = 1): Promise<TransportMessage[]> {
      const got: TransportMessage[] = [];
      await t.subscribe(filter, (m) => got.push(m), { qos }).ready;
      return got;
    }

    /** Publishes `topic` then an end marker on `${r}/end`; resolves once `got` (subscribed to it) holds the marker. */
    async function published(pub: Transport, r: string, topics: readonly string[], marker: TransportMessage[]): Promise<void> {
      for (const topic of topics) await pub.publish(topic, bytes(1), { qos: 1 });
      const n = marker.length;
      await pub.publish(`${r}/end`, bytes(0xee), { qos: 1 });
      await waitFor(() => marker.length > n, { what: 'the end marker' });
    }

    test('transport connects and round-trips binary payloads byte-exact with QoS 0 and 1', async () => {
      const r = root();
      const sub = await connect('sub');
      const got = await inbox(sub, `${r}/bin`);
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
      const plusGot = await inbox(plus, `${r}/+/data`, 0);
      const hashGot = await inbox(hash, `${r}/s1/#`, 0);
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

    test('transport shared subscription: two clients of one $share group split the messages, each to one of them; a plain subscriber gets all (a broker without them: the group gets none)', async () => {
      const r = root();
      const a = await connect('share-a');
      const b = await connect('share-b');
      const gotA = await inbox(a, `$share/ingest/${r}/+/history`);
      const gotB = await inbox(b, `$share/ingest/${r}/+/history`);
      const plain = await connect('plain');
      const all = await inbox(plain, `${r}/+/history`);
      const pub = await connect('pub');
      const topics = Array.from({ length: 40 }, (_, i) => `${r}/n${i}/history`);
      for (const topic of topics) await pub.publish(topic, bytes(1), { qos: 1 });
      await pub.publish(`${r}/other/data`, bytes(1), { qos: 1 });
      if (target.sharedSubscriptions === false) {
        // Aedes takes `$share/...` as a plain filter nothing matches: the scale-out ingest needs a broker with them.
        await waitFor(() => all.length === 40, { what: 'all 40 at the plain subscriber' });
        assert.equal(gotA.length + gotB.length, 0, 'a broker without shared subscriptions gives the group nothing');
        return;
      }
      await waitFor(() => gotA.length + gotB.length === 40 && all.length === 40, {
        what: 'all 40 at the group and at the plain subscriber',
      });
      const split = [...gotA, ...gotB].map((m) => m.topic).sort();
      assert.deepEqual(split, [...topics].sort(), 'each message once across the group, with its own topic');
      assert.ok(gotA.length > 0 && gotB.length > 0, `both members got a share (${gotA.length}, ${gotB.length})`);
      assert.equal(all.length, 40);
    });

    test('transport a client in a share group that also holds a plain filter of the same topics: its share handler gets its turns only', async () => {
      const r = root();
      const a = await connect('share-plain-a');
      const b = await connect('share-plain-b');
      const shareA = await inbox(a, `$share/g/${r}/+/x`);
      const plainA = await inbox(a, `${r}/+/x`);
      const shareB = await inbox(b, `$share/g/${r}/+/x`);
      const pub = await connect('pub');
      for (let i = 0; i < 20; i++) await pub.publish(`${r}/n${i}/x`, bytes(i), { qos: 1 });
      await waitFor(() => plainA.length === 20, { what: 'all 20 at the plain filter' });
      if (target.sharedSubscriptions === false) {
        // Aedes: no shared subscriptions, MQTT 3.1.1 (no subscription identifiers): the share filter matches as its
        // inner filter, so the plain filter's copies reach it too; B's share gets nothing.
        await waitFor(() => shareA.length === 20, { what: "the plain filter's copies at the share handler" });
        assert.equal(shareB.length, 0);
        return;
      }
      await waitFor(() => shareA.length + shareB.length === 20, { what: 'the 20 split across the group' });
      assert.ok(shareA.length > 0 && shareB.length > 0, `both members got a share (${shareA.length}, ${shareB.length})`);
      assert.ok(shareA.length < 20, "A's share handler got its turns, not the plain filter's copies");
    });

    test('transport hands each handler only the messages of its own filter, once, when filters of one client overlap', async () => {
      const r = root();
      const sub = await connect('sub');
      const all = await inbox(sub, `${r}/#`);
      const exact = await inbox(sub, `${r}/a/b`);
      const exactToo = await inbox(sub, `${r}/a/b`);
      const plus = await inbox(sub, `${r}/+/b`);
      const other = await inbox(sub, `${r}/x/#`);
      const marker = await inbox(sub, `${r}/end`);
      const pub = await connect('pub');
      const before = sub.stats().messagesIn;
      await published(pub, r, [`${r}/a/b`, `${r}/c/b`, `${r}/a/c`], marker);
      await waitFor(() => all.length >= 4, { what: 'every message through the # filter' });
      assert.deepEqual(
        all.map((m) => m.topic),
        [`${r}/a/b`, `${r}/c/b`, `${r}/a/c`, `${r}/end`],
      );
      assert.deepEqual(
        exact.map((m) => m.topic),
        [`${r}/a/b`],
      );
      assert.deepEqual(
        exactToo.map((m) => m.topic),
        [`${r}/a/b`],
        'two handlers of one filter both get it',
      );
      assert.deepEqual(
        plus.map((m) => m.topic),
        [`${r}/a/b`, `${r}/c/b`],
      );
      assert.deepEqual(other, []);
      // Over MQTT 5 a broker may send one copy per matching subscription (Mosquitto does): more messages in, and
      // still one per handler.
      assert.ok(sub.stats().messagesIn - before >= 4);
    });

    test('transport unsubscribe stops one handler at once and the last one unsubscribes at the broker', async () => {
      const r = root();
      const sub = await connect('sub');
      const firstGot: TransportMessage[] = [];
      const secondGot: TransportMessage[] = [];
      const first = sub.subscribe(`${r}/t`, (m) => firstGot.push(m));
      const second = sub.subscribe(`${r}/t`, (m) => secondGot.push(m));
      await Promise.all([first.ready, second.ready]);
      const marker = await inbox(sub, `${r}/end`);
      const pub = await connect('pub');
      await published(pub, r, [`${r}/t`], marker);
      assert.equal(firstGot.length, 1);
      assert.equal(secondGot.length, 1);
      first.unsubscribe();
      first.unsubscribe();
      await published(pub, r, [`${r}/t`], marker);
      assert.equal(firstGot.length, 1, 'an unsubscribed handler gets nothing more');
      assert.equal(secondGot.length, 2, 'the other handler of the filter still gets it');
      second.unsubscribe();
      // The broker reads one client's packets in order: once this SUBACK is in, the UNSUBSCRIBE was done.
      await sub.subscribe(`${r}/sync`, () => {}).ready;
      const before = sub.stats().messagesIn;
      await published(pub, r, [`${r}/t`, `${r}/t`], marker);
      assert.equal(secondGot.length, 2);
      assert.equal(sub.stats().messagesIn - before, 1, 'only the end marker came in: the broker dropped the filter');
      // Subscribed again after the last handler left: a new broker subscription.
      const again = await inbox(sub, `${r}/t`);
      await published(pub, r, [`${r}/t`], marker);
      assert.equal(again.length, 1);
    });

    test('transport a handler joining a filter already subscribed gets its retained message; an invalid filter is refused', async () => {
      const r = root();
      const pub = await connect('pub');
      await pub.publish(`${r}/state`, bytes(5), { qos: 1, retain: true });
      const sub = await connect('sub');
      const early = await inbox(sub, `${r}/state`);
      await waitFor(() => early.length >= 1, { what: 'the retained message at the first handler' });
      const late = await inbox(sub, `${r}/state`);
      await waitFor(() => late.length >= 1, { what: 'the retained message at the handler that joined' });
      assert.equal(late[0]?.retain, true);
      assert.deepEqual([...(late[0]?.payload ?? [])], [5]);
      assert.throws(
        () => sub.subscribe(`${r}/#/x`, () => {}),
        (err) => isFieldmeshError(err, 'FM_TRANSPORT_REFUSED'),
      );
      await pub.publish(`${r}/state`, new Uint8Array(0), { qos: 1, retain: true });
    });

    test('transport isolates handlers: one that throws or rejects does not stop the others, and keeps its subscription', async () => {
      const r = root();
      const sub = await connect('sub');
      let thrown = 0;
      let rejected = 0;
      sub.subscribe(`${r}/t`, () => {
        thrown++;
        throw new Error('handler bug');
      });
      // A handler typed to return nothing may still hand back a promise that rejects.
      const rejecting: MessageHandler = () => {
        rejected++;
        return Promise.reject(new Error('async handler bug'));
      };
      sub.subscribe(`${r}/t`, rejecting);
      const fine = await inbox(sub, `${r}/t`);
      const wide = await inbox(sub, `${r}/#`);
      const pub = await connect('pub');
      await pub.publish(`${r}/t`, bytes(1), { qos: 1 });
      await pub.publish(`${r}/t`, bytes(2), { qos: 1 });
      await waitFor(() => fine.length >= 2 && wide.length >= 2, { what: 'both messages at the handlers that work' });
      assert.equal(thrown, 2);
      assert.equal(rejected, 2);
      await waitFor(() => sub.stats().handlerErrors === 4, { what: 'four handler failures counted' });
    });

    test('transport delivers a retained message to a late subscriber with the retain flag', async () => {
      const r = root();
      const pub = await connect('pub');
      await pub.publish(`${r}/state`, bytes(7, 7), { qos: 1, retain: true });
      const late = await connect('late');
      const got = await inbox(late, `${r}/#`);
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
      const got = await inbox(watcher, `${r}/will/#`);
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

    test('transport restores subscriptions after the broker restarts, and not those unsubscribed', async () => {
      const r = root();
      const sub = await connect('sub');
      const pub = await connect('pub');
      const got = await inbox(sub, `${r}/after`);
      const wide = await inbox(sub, `${r}/+`);
      const gone: TransportMessage[] = [];
      const left = sub.subscribe(`${r}/gone`, (m) => gone.push(m));
      await left.ready;
      left.unsubscribe();
      const subDown = once(sub, 'disconnected', { what: 'subscriber noticed the broker going away', timeoutMs: 10_000 });
      const subBack = once(sub, 'connected', { what: 'subscriber reconnected after the restart', timeoutMs: 15_000 });
      const pubBack = once(pub, 'connected', { what: 'publisher reconnected after the restart', timeoutMs: 15_000 });
      await target.restartBroker();
      await subDown;
      await Promise.all([subBack, pubBack]);
      assert.equal(sub.stats().connects, 2);
      const before = sub.stats().messagesIn;
      await pub.publish(`${r}/gone`, bytes(9), { qos: 1 });
      await pub.publish(`${r}/after`, bytes(4, 2), { qos: 1 });
      await waitFor(() => got.length >= 1 && wide.length >= 2, { what: 'messages through the restored subscriptions' });
      assert.deepEqual([...(got[0]?.payload ?? [])], [4, 2]);
      assert.deepEqual(
        wide.map((m) => m.topic),
        [`${r}/gone`, `${r}/after`],
      );
      assert.equal(gone.length, 0);
      // The wide filter's copy of gone and the two copies of after (MQTT 5 may send one per subscription).
      assert.ok(sub.stats().messagesIn - before <= 3);
    });

    test('transport restores subscriptions after its own link drops, with the broker up', async () => {
      const r = root();
      const { transport: sub, drop } = await target.createDroppable({ clientId: `droppable-${process.pid}-${seq}` });
      open.push(sub);
      const connected = once(sub, 'connected', { what: 'droppable connected', timeoutMs: 10_000 });
      sub.start();
      await connected;
      const got = await inbox(sub, `${r}/+/x`);
      const pub = await connect('pub');
      const down = once(sub, 'disconnected', { what: 'the subscriber noticed its link drop', timeoutMs: 10_000 });
      const back = once(sub, 'connected', { what: 'the subscriber reconnected', timeoutMs: 15_000 });
      drop();
      await down;
      // Joined around the reconnection (before or after it, as the backoff falls): granted either way.
      const joined: TransportMessage[] = [];
      const join = sub.subscribe(`${r}/joined`, (m) => joined.push(m));
      await back;
      await join.ready;
      await pub.publish(`${r}/a/x`, bytes(1), { qos: 1 });
      await pub.publish(`${r}/joined`, bytes(2), { qos: 1 });
      await waitFor(() => got.length >= 1 && joined.length >= 1, { what: 'messages through the restored and the new subscription' });
      assert.equal(got[0]?.topic, `${r}/a/x`);
      assert.equal(sub.stats().connects, 2);
    });

    test('transport subscriptions made while the link is down are granted when it comes up', async () => {
      const r = root();
      const sub = make('early');
      const got: TransportMessage[] = [];
      const subscription = sub.subscribe(`${r}/early`, (m) => got.push(m));
      let granted = false;
      void subscription.ready.then(() => {
        granted = true;
      });
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(granted, false, 'nothing granted before the link is up');
      const connected = once(sub, 'connected', { what: 'early subscriber connected', timeoutMs: 10_000 });
      sub.start();
      await connected;
      assert.equal(granted, true, 'granted before connected fired');
      const pub = await connect('pub');
      await pub.publish(`${r}/early`, bytes(3), { qos: 1 });
      await waitFor(() => got.length >= 1, { what: 'the message at the early subscriber' });
    });

    test('transport handlers of several filters of one client get the messages in the order they were published', async () => {
      // A process's frame router subscribes one filter per channel (the hub: birth, data, history ...): a node's
      // birth must still come before its data.
      const r = root();
      const sub = await connect('sub');
      const order: string[] = [];
      const births = sub.subscribe(`${r}/+/birth`, (m) => order.push(m.topic));
      const data = sub.subscribe(`${r}/+/data`, (m) => order.push(m.topic));
      await Promise.all([births.ready, data.ready]);
      const pub = await connect('pub');
      const sent = [`${r}/n1/birth`, `${r}/n1/data`, `${r}/n2/birth`, `${r}/n1/data`, `${r}/n2/data`, `${r}/n1/birth`];
      for (const topic of sent) await pub.publish(topic, bytes(1), { qos: 1 });
      await waitFor(() => order.length >= sent.length, { what: 'every message at the subscriber' });
      assert.deepEqual(order, sent);
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
      const got = await inbox(sub, `${r}/count`);
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
