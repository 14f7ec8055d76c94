// Zone frames authorised at the actuator: certificates of a real fleet CA made in the test; a listed voter's signed
// vote accepted, and every intruder refused with its reason (another zone's valid certificate, a revoked one, a
// self-signed key with the right CN, another site's, a changed frame under a replayed signature, no CA at all).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { silentLogger } from '../../kit/index.js';
import { x509 } from '../../pki/index.js';
import { createTestCa, issueTo, type KeyAndCert, selfSignedNode, type TestCa } from '../../pki/pki-test-kit.js';
import type { Vote, ZoneConfig } from '../../protocol/consensus/types.js';
import { ZoneVotes } from '../../protocol/consensus/votes.js';
import { decodeZoneDatagram, encodeZoneDatagram } from '../../protocol/consensus/zone-datagram.js';
import { decodeZoneFrame, encodeZoneFrame, type ZoneFrame } from '../../protocol/consensus/zone-frames.js';
import {
  decodeZoneControl,
  encodeZoneCertificate,
  encodeZoneCertificateWant,
  ZONE_SIGNATURE_OVERHEAD_BYTES,
  type ZoneSignatureRefusal,
} from '../../protocol/consensus/zone-signature.js';
import { createZoneSigner, ZoneFrameAuthenticator, type ZoneSigner } from './zone-signing.js';

const SITE = 'ranch';
const TTL_MS = 6_000;
const HASH = 'cfg-a';

const north: ZoneConfig = {
  id: 'north',
  voters: ['v1', 'v2', 'v3'],
  cameras: [{ id: 'c1', node: 'v1', weight: 1 }],
  pumps: [{ id: 'p1', node: 'v1', envelope: {} as never }],
  overlaps: [],
  policy: {
    windowMs: 60_000,
    classes: ['fire'],
    minConfidence: 0.5,
    minCameras: 1,
    minNodes: 1,
    threshold: 0.5,
    cooldownMs: 0,
    activates: [],
    voteTtlMs: TTL_MS,
    maxClockSkewMs: 2_000,
    isolatedFallback: { enabled: false, minCameras: 3, minConfidence: 0.9 },
  },
};
/** Another zone of the same site: its voter x1 holds a valid certificate of the fleet. */
const south: ZoneConfig = { ...north, id: 'south', voters: ['x1', 'x2', 'x3'], cameras: [], pumps: [] };

let testCa: TestCa;
let out: string;
const certs = new Map<string, KeyAndCert>();
const signers = new Map<string, ZoneSigner>();

function derOf(pem: string): Uint8Array {
  return new Uint8Array(new x509.X509Certificate(pem).rawData);
}

before(async () => {
  testCa = await createTestCa();
  out = mkdtempSync(join(tmpdir(), 'fieldmesh-zone-signing-'));
  for (const node of ['v1', 'v2', 'v3', 'x1', 'gone']) {
    const kc = await issueTo(testCa.ca, node, SITE, join(out, node));
    certs.set(node, kc);
    signers.set(node, await createZoneSigner({ keyPem: kc.keyPem, certPem: kc.certPem, keyFile: `${node}.key` }));
  }
  const other = await issueTo(testCa.ca, 'w1', 'elsewhere', join(out, 'w1'));
  certs.set('w1', other);
  signers.set('w1', await createZoneSigner({ keyPem: other.keyPem, certPem: other.certPem, keyFile: 'w1.key' }));
  await testCa.ca.revoke('gone', 'keyCompromise');
});

after(() => {
  testCa.cleanup();
  rmSync(out, { recursive: true, force: true });
});

function authenticator(o: { ca?: string | undefined } = {}): { auth: ZoneFrameAuthenticator; refused: string[] } {
  const refused: string[] = [];
  const auth = new ZoneFrameAuthenticator({
    site: SITE,
    ca: 'ca' in o ? o.ca : testCa.ca.certificatePem,
    crl: readFileSync(testCa.ca.crlFile, 'utf8'),
    zones: [north, south],
    now: () => testCa.clock.now(),
    logger: silentLogger,
    onCertificateRefused: (r) => refused.push(r),
  });
  return { auth, refused };
}

function voteOf(voter: string, over: Partial<Vote> = {}): Vote {
  const now = testCa.clock.now();
  return { zone: 'north', epoch: 0, voter, configHash: HASH, boot: 1, seq: 1, time: now, ttlMs: TTL_MS, evidence: ['d1'], ...over };
}

async function signed(node: string, frame: ZoneFrame): Promise<Uint8Array> {
  return (signers.get(node) as ZoneSigner).sign(encodeZoneFrame(frame));
}

/** What a receiver does: decode, authenticate, then offer a vote to the counter. */
async function receive(
  auth: ZoneFrameAuthenticator,
  votes: ZoneVotes,
  bytes: Uint8Array,
  sender: string,
): Promise<ZoneSignatureRefusal | string> {
  const decoded = decodeZoneFrame(bytes);
  if (!decoded.ok) return `undecodable:${decoded.error.reason}`;
  const refusal = await auth.check(decoded.frame, decoded.signature, sender);
  if (refusal !== undefined) return refusal;
  if (decoded.frame.type !== 'vote') return 'accepted';
  const offered = votes.offer(decoded.frame.vote, sender, testCa.clock.now());
  return offered.accepted ? 'accepted' : offered.reason;
}

test('zone signing: a listed voter signed vote is accepted once its certificate is known; signing adds 74 bytes', async () => {
  const { auth } = authenticator();
  const votes = new ZoneVotes(north, HASH);
  const bytes = await signed('v2', { type: 'vote', vote: voteOf('v2') });
  assert.equal(bytes.length, encodeZoneFrame({ type: 'vote', vote: voteOf('v2') }).length + ZONE_SIGNATURE_OVERHEAD_BYTES);
  assert.equal(await receive(auth, votes, bytes, 'v2'), 'unknown-certificate', 'before its certificate arrives');
  assert.deepEqual(await auth.addCertificate(derOf(certs.get('v2')?.certPem as string), 'v2'), {
    ok: true,
    keyId: signers.get('v2')?.keyId,
    node: 'v2',
  });
  assert.equal(await receive(auth, votes, bytes, 'v2'), 'accepted');
  assert.equal(await receive(auth, votes, bytes, 'v2'), 'replayed', 'the same signed vote again is a replay, as unsigned');
  // Over UDP the datagram carries the signature through its envelope.
  const datagram = decodeZoneDatagram(encodeZoneDatagram(SITE, 'v2', bytes));
  assert.ok(datagram.ok && datagram.datagram.signature?.keyId === signers.get('v2')?.keyId);
});

test('zone signing: intruders are refused with their reason', async () => {
  const { auth, refused } = authenticator();
  const votes = new ZoneVotes(north, HASH);
  for (const node of ['v1', 'v2', 'x1']) await auth.addCertificate(derOf(certs.get(node)?.certPem as string), node);
  // Unsigned, in a fleet that requires signatures (an old node, or anyone on the segment).
  assert.equal(await receive(auth, votes, encodeZoneFrame({ type: 'vote', vote: voteOf('v2') }), 'v2'), 'unsigned');
  // A valid certificate of another zone: x1 signing as itself, and x1 claiming to be v2 (UDP's claimed sender).
  assert.equal(await receive(auth, votes, await signed('x1', { type: 'vote', vote: voteOf('x1') }), 'x1'), 'wrong-identity');
  assert.equal(await receive(auth, votes, await signed('x1', { type: 'vote', vote: voteOf('v2') }), 'v2'), 'wrong-identity');
  // x1's certificate announced under v2's name is refused (its CN is x1), and x1's key still speaks only for x1.
  assert.equal((await auth.addCertificate(derOf(certs.get('x1')?.certPem as string), 'v2')).ok, false);
  assert.equal(await receive(auth, votes, await signed('x1', { type: 'vote', vote: voteOf('v2') }), 'v2'), 'wrong-identity');
  // An operator command or a pump state from a node no zone role lists.
  const command = { type: 'command', zone: 'north', pump: 'p1', action: 'start', epoch: 0, id: 'c-1', by: 'eve', time: 1 } as const;
  assert.equal(await receive(auth, votes, await signed('x1', command), 'x1'), 'wrong-identity');
  assert.equal(await receive(auth, votes, await signed('v2', command), 'v2'), 'accepted');
  const state = {
    type: 'pumpState',
    zone: 'north',
    pump: 'p1',
    state: 'running',
    cause: 'majority',
    epoch: 0,
    since: 1,
    runtimeMs: 0,
  } as const;
  assert.equal(await receive(auth, votes, await signed('v2', state), 'v2'), 'wrong-identity', 'only the pump owner says its state');
  // A revoked node: its certificate is refused (revoked), its frames have no certificate in force.
  assert.equal((await auth.addCertificate(derOf(certs.get('gone')?.certPem as string), 'gone')).ok, false);
  const goneVote = await signed('gone', { type: 'vote', vote: voteOf('v3') });
  assert.equal(await receive(auth, votes, goneVote, 'v3'), 'unknown-certificate');
  // A self-signed key with the right CN and site: a stolen laptop's.
  const fake = await selfSignedNode({ node: 'v3', site: SITE, fleet: testCa.ca.fleet, nowMs: testCa.clock.now() });
  const fakeSigner = await createZoneSigner({ keyPem: fake.keyPem, certPem: fake.certPem, keyFile: 'fake.key' });
  assert.equal((await auth.addCertificate(derOf(fake.certPem), 'v3')).ok, false);
  assert.equal(
    await receive(auth, votes, await fakeSigner.sign(encodeZoneFrame({ type: 'vote', vote: voteOf('v3') })), 'v3'),
    'unknown-certificate',
  );
  // A valid certificate of the same node id on another site.
  const w1 = await auth.addCertificate(derOf(certs.get('w1')?.certPem as string), 'w1');
  assert.equal(w1.ok, false);
  assert.deepEqual(refused.sort(), ['other-node', 'other-site', 'revoked', 'self-signed']);
  // v3's own, real certificate still verifies after the fake was refused under its name.
  assert.equal((await auth.addCertificate(derOf(certs.get('v3')?.certPem as string), 'v3')).ok, true);
  assert.equal(await receive(auth, votes, await signed('v3', { type: 'vote', vote: voteOf('v3') }), 'v3'), 'accepted');
});

test('zone signing: any byte of a signed vote changed is refused (bad-signature, or its key unknown, or undecodable)', async () => {
  const { auth } = authenticator();
  await auth.addCertificate(derOf(certs.get('v1')?.certPem as string), 'v1');
  const original = await signed('v1', { type: 'vote', vote: voteOf('v1', { seq: 7, evidence: ['d1', 'd2'] }) });
  const outcomes = new Map<string, number>();
  // Exhaustive over every byte the signature covers and the signature itself, each flipped by a random mask.
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 255 }), async (mask) => {
      for (let i = 0; i < original.length; i++) {
        const changed = Uint8Array.from(original);
        changed[i] = (changed[i] as number) ^ mask;
        const outcome = await receive(auth, new ZoneVotes(north, HASH), changed, 'v1');
        assert.notEqual(outcome, 'accepted', `byte ${i} ^ ${mask} accepted`);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    }),
    { numRuns: 8 },
  );
  assert.ok((outcomes.get('bad-signature') ?? 0) > 0);
  assert.equal(await receive(auth, new ZoneVotes(north, HASH), original, 'v1'), 'accepted');
});

test('zone signing: with no CA to verify with, every certificate and every signed frame is refused (fail-safe)', async () => {
  const { auth, refused } = authenticator({ ca: undefined });
  const outcome = await auth.addCertificate(derOf(certs.get('v2')?.certPem as string), 'v2');
  assert.equal(outcome.ok, false);
  assert.deepEqual(refused, ['no-ca']);
  assert.equal(
    await receive(auth, new ZoneVotes(north, HASH), await signed('v2', { type: 'vote', vote: voteOf('v2') }), 'v2'),
    'unknown-certificate',
  );
});

test('zone signing: an unsigned frame still decodes; the certificate and want control frames round-trip', async () => {
  const plain = encodeZoneFrame({ type: 'vote', vote: voteOf('v1') });
  const decoded = decodeZoneFrame(plain);
  assert.ok(decoded.ok && decoded.signature === undefined && decoded.frame.type === 'vote');
  const der = derOf(certs.get('v1')?.certPem as string);
  const cert = decodeZoneControl(encodeZoneCertificate(der));
  assert.ok(cert.ok && cert.control.type === 'certificate');
  assert.deepEqual(cert.control.der, der);
  const keyId = signers.get('v1')?.keyId as string;
  assert.deepEqual(decodeZoneControl(encodeZoneCertificateWant(keyId)), { ok: true, control: { type: 'want', keyId } });
  assert.equal(decodeZoneFrame(encodeZoneCertificate(der)).ok, false, 'a certificate is not a zone frame');
});
