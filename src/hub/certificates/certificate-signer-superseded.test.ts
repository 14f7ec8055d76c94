// The hub's online signer, after a renewal, on a manual clock: [FM-CERT-7] once the node says its link uses the new
// certificate, the older one is revoked as superseded after pki.revokeSupersededAfter (at once with 0, never with
// null), a new CRL lists it, the revocation is counted and audited; a serial that is not the node's is ignored.
// Pending requests survive a restart of the signer (pending-csrs.json under the pki dir).

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { waitFor } from '../../../test/kit/wait.js';
import { ManualClock, silentLogger } from '../../kit/index.js';
import { canonicalSerial, createNodeCsr, DAY_MS, parseCrl, readIndex } from '../../pki/index.js';
import { createTestCa, type TestCa } from '../../pki/pki-test-kit.js';
import {
  type CertificateAnswer,
  decodeCertificateAnswer,
  decodeCsrTopicMessage,
  encodeCertificateInUse,
  encodeCertificateRequest,
} from '../../protocol/index.js';
import { createNoBrokerTransport, type Transport } from '../../transport/index.js';
import { hubConfigSchema } from '../config.js';
import { CertificateSigner, type CertificateSignerOptions } from './certificate-signer.js';

function recordingTransport(answers: CertificateAnswer[]): Transport {
  return {
    connected: true,
    start() {},
    publish: async (_topic, payload) => {
      answers.push(decodeCertificateAnswer(payload));
    },
    // Nothing arrives through this fake.
    subscribe: createNoBrokerTransport().subscribe,
    on() {},
    off() {},
    stats: () => ({ bytesIn: 0, bytesOut: 0, connects: 1, messagesIn: 0, messagesOut: 0 }),
    close: async () => {},
  };
}

interface Setup {
  readonly clock: ManualClock;
  readonly testCa: TestCa;
  readonly answers: CertificateAnswer[];
  readonly registry: Registry;
  readonly audits: { target: string; result: string }[];
  signer(extra?: Partial<CertificateSignerOptions>): CertificateSigner;
}

async function setup(approved: Set<string>): Promise<Setup> {
  const clock = new ManualClock(Date.now());
  const testCa = await createTestCa({ clock });
  const answers: CertificateAnswer[] = [];
  /** The registry of the last signer made (each signer registers its metrics once). */
  let registry = new Registry();
  const audits: { target: string; result: string }[] = [];
  return {
    clock,
    testCa,
    answers,
    get registry() {
      return registry;
    },
    audits,
    signer: (extra = {}) => {
      registry = new Registry();
      return new CertificateSigner({
        ca: testCa.ca,
        prefix: 'fieldmesh',
        validityMs: 90 * DAY_MS,
        renewAt: 2 / 3,
        clock,
        logger: silentLogger,
        registry,
        transport: () => recordingTransport(answers),
        isApproved: (site, node) => approved.has(`${site}/${node}`),
        audit: (target, result) => audits.push({ target, result }),
        ...extra,
      });
    },
  };
}

const csr = async (node: string, site: string, requestId: string) =>
  encodeCertificateRequest({ requestId, csr: (await createNodeCsr({ node, site })).csrPem });

/** A first certificate and its renewal for ranch/edge-01: their serials. */
async function renewed(s: Setup, signer: CertificateSigner): Promise<{ first: string; second: string }> {
  assert.equal(await signer.receive('ranch', 'edge-01', decodeCsrTopicMessage(await csr('edge-01', 'ranch', 'r1'))), 'issued');
  assert.equal(await signer.receive('ranch', 'edge-01', decodeCsrTopicMessage(await csr('edge-01', 'ranch', 'r2'))), 'issued');
  const serials = s.answers.flatMap((a) => (a.status === 'issued' ? [a.serial] : []));
  assert.equal(serials.length, 2);
  return { first: serials[0] as string, second: serials[1] as string };
}

const stateOf = (s: Setup, serial: string) => readIndex(s.testCa.ca.indexFile).certificates.find((c) => c.serial === serial);

function crlSerials(s: Setup): string[] {
  const crl = parseCrl(readFileSync(s.testCa.ca.crlFile, 'utf8'), 'crl.pem');
  return crl.entries.map((e) => canonicalSerial(e.serialNumber));
}

test('certificates: the older certificate is revoked as superseded an hour after the node uses its new one [FM-CERT-7]', async (t) => {
  const s = await setup(new Set(['ranch/edge-01']));
  t.after(s.testCa.cleanup);
  const signer = s.signer({ revokeSupersededAfterMs: 3_600_000 });
  t.after(() => signer.stop());
  const { first, second } = await renewed(s, signer);

  // Still on the old one: nothing older than it.
  assert.equal(await signer.inUse('ranch', 'edge-01', first), 'current');
  // On its new one (the message of its csr topic): the old one goes after the grace.
  assert.equal(await signer.receive('ranch', 'edge-01', decodeCsrTopicMessage(encodeCertificateInUse({ inUse: second }))), 'in-use');
  s.clock.advance(3_600_000 - 1_000);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(stateOf(s, first)?.state, 'valid', 'within the grace');
  s.clock.advance(1_000);
  // The audit entry comes last, after the index and the CRL.
  await waitFor(() => s.audits.length === 1, { what: 'the first certificate superseded' });
  assert.equal(stateOf(s, first)?.state, 'superseded');
  assert.equal(stateOf(s, first)?.reason, 'superseded');
  assert.equal(stateOf(s, second)?.state, 'valid');
  assert.ok(crlSerials(s).includes(canonicalSerial(first)), `CRL lists ${first}: ${crlSerials(s).join(', ')}`);
  assert.deepEqual(s.audits, [{ target: `ranch/edge-01 certificate ${first} superseded by ${second}`, result: 'ok' }]);
  assert.match(await s.registry.metrics(), /fieldmesh_hub_certificates_superseded_total 1/);
  assert.equal(signer.stateOf('ranch', 'edge-01'), 'valid');

  // Reported again (the next connection): nothing left to revoke.
  assert.equal(await signer.inUse('ranch', 'edge-01', second), 'current');
});

test('certificates: revokeSupersededAfter 0 revokes at once, never keeps the older certificate [FM-CERT-7]', async (t) => {
  const s = await setup(new Set(['ranch/edge-01']));
  t.after(s.testCa.cleanup);
  const never = s.signer({ revokeSupersededAfterMs: null });
  const { first, second } = await renewed(s, never);
  assert.equal(await never.inUse('ranch', 'edge-01', second), 'kept');
  s.clock.advance(30 * DAY_MS);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(stateOf(s, first)?.state, 'valid');

  const atOnce = s.signer({ revokeSupersededAfterMs: 0 });
  assert.equal(await atOnce.inUse('ranch', 'edge-01', second), 'revoked');
  assert.equal(stateOf(s, first)?.state, 'superseded');
  assert.ok(crlSerials(s).includes(canonicalSerial(first)));
});

test('certificates: a serial in use that is not the node own certificate in force is ignored [FM-CERT-7]', async (t) => {
  const s = await setup(new Set(['ranch/edge-01', 'ranch/edge-02']));
  t.after(s.testCa.cleanup);
  const signer = s.signer({ revokeSupersededAfterMs: 0 });
  const { first, second } = await renewed(s, signer);
  // Another node naming edge-01's serial, a serial the CA never issued, the revoked one.
  assert.equal(await signer.inUse('ranch', 'edge-02', second), 'unknown');
  assert.equal(await signer.inUse('other', 'edge-01', second), 'unknown');
  assert.equal(await signer.inUse('ranch', 'edge-01', 'abcdef'), 'unknown');
  assert.equal(stateOf(s, first)?.state, 'valid');
  // A malformed in-use message is invalid, counted as such.
  assert.throws(() => decodeCsrTopicMessage(new TextEncoder().encode('{"inUse":"XYZ"}')), /certificate in use refused/);
  assert.equal(signer.unreadable('ranch', 'edge-01', 'certificate in use refused'), 'invalid');
  assert.equal(await signer.inUse('ranch', 'edge-01', second), 'revoked');
  assert.equal(await signer.inUse('ranch', 'edge-01', first), 'unknown');
});

test('certificates: a pending node request survives a restart of the hub and is signed at approval [FM-CERT-5]', async (t) => {
  const approved = new Set<string>();
  const s = await setup(approved);
  t.after(s.testCa.cleanup);
  const pendingFile = join(s.testCa.dir, 'pending-csrs.json');
  const before = s.signer({ pendingFile });
  assert.equal(await before.receive('ranch', 'edge-01', decodeCsrTopicMessage(await csr('edge-01', 'ranch', 'kept-1'))), 'pending');
  const saved = JSON.parse(readFileSync(pendingFile, 'utf8')) as { version: number; requests: { node: string }[] };
  assert.equal(saved.version, 1);
  assert.deepEqual(
    saved.requests.map((r) => r.node),
    ['edge-01'],
  );

  // A new signer (the hub restarted) on the same file: the approval signs the request kept.
  const after = s.signer({ pendingFile });
  approved.add('ranch/edge-01');
  assert.equal(await after.approved('ranch', 'edge-01'), 'issued');
  const last = s.answers.at(-1);
  assert.equal(last?.status, 'issued');
  assert.equal(last?.requestId, 'kept-1');
  assert.deepEqual((JSON.parse(readFileSync(pendingFile, 'utf8')) as { requests: unknown[] }).requests, []);

  // An unreadable file is reported, not fatal: the nodes' retries bring their requests again.
  writeFileSync(pendingFile, '{"version": 1, "requests": [{"site": "ranch"}]}');
  const third = s.signer({ pendingFile });
  assert.equal(await third.approved('ranch', 'edge-01'), undefined);
});

test('certificates: hub.yaml pki.revokeSupersededAfter is 1h by default, a duration, 0, or never; anything else is named', () => {
  const pki = (extra: object) => hubConfigSchema.safeParse({ pki: { dir: '/tmp/pki', ...extra } });
  const ms = (extra: object) => {
    const r = pki(extra);
    assert.ok(r.success, JSON.stringify(r.error?.issues));
    return r.data.pki?.revokeSupersededAfter;
  };
  assert.equal(ms({}), 3_600_000);
  assert.equal(ms({ revokeSupersededAfter: '5s' }), 5_000);
  assert.equal(ms({ revokeSupersededAfter: 0 }), 0);
  assert.equal(ms({ revokeSupersededAfter: 'never' }), null);
  const bad = pki({ revokeSupersededAfter: 'soon' });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error?.issues[0]?.path, ['pki', 'revokeSupersededAfter']);
  assert.match(bad.error?.issues[0]?.message ?? '', /expected a duration like "1h", "30s", 0 or "never", got "soon"/);
});
