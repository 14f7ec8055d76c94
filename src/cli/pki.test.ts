// fieldmesh pki through main(): the CSR flow from init to revoke with an encrypted CA key, the list as a table and
// JSON, mosquitto-conf from the shipped configuration repository, and exit codes with a line naming the file:
// 2 for bad input or passphrase, 1 when the CA refuses.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { main } from './main.js';
import { PASSPHRASE_FILE_ENV } from './pki.js';

const EXAMPLE = new URL('../../examples/fleet-as-code', import.meta.url).pathname;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fm-pki-cli-'));
  dirs.push(dir);
  return dir;
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err, text: () => [...out, ...err].join('\n') };
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = capture();
  const code = await main(args, c.io);
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
}

test('cli pki: init with an encrypted key, csr on the node, sign, list, renew, revoke superseded, crl', async () => {
  const root = tempDir();
  const pki = join(root, 'pki');
  const node = join(root, 'node');
  const pass = join(root, 'pass');
  writeFileSync(pass, 'a long passphrase\n');
  const init = await run(['pki', 'init', '--dir', pki, '--fleet', 'acme', '--passphrase-file', pass]);
  assert.equal(init.code, 0, init.err);
  assert.match(init.out, /fleet CA "CN=acme fleet CA, O=acme" valid until/);
  assert.match(init.out, /ca\.key \(0600, encrypted\)/);
  assert.match(readFileSync(join(pki, 'ca.key'), 'utf8'), /ENCRYPTED PRIVATE KEY/);

  const csr = await run(['pki', 'csr', 'edge-01', '--site', 'ranch', '--out', node, '--san', 'edge-01.local,10.0.0.7']);
  assert.equal(csr.code, 0, csr.err);
  assert.equal(statSync(join(node, 'edge-01.key')).mode & 0o777, 0o600);

  // Without the passphrase: exit 2 naming the key; with it through the environment variable: signed.
  const noPass = await run(['pki', 'sign', join(node, 'edge-01.csr'), '--node', 'edge-01', '--dir', pki]);
  assert.equal(noPass.code, 2);
  assert.match(noPass.err, /error: FM_PKI_PASSPHRASE: .*ca\.key is encrypted/);
  process.env[PASSPHRASE_FILE_ENV] = pass;
  try {
    const signed = await run(['pki', 'sign', join(node, 'edge-01.csr'), '--node', 'edge-01', '--dir', pki]);
    assert.equal(signed.code, 0, signed.err);
    assert.match(signed.out, /signed CN=edge-01, O=acme, OU=ranch serial [0-9a-f]{32}/);
    assert.match(readFileSync(join(node, 'edge-01.crt'), 'utf8'), /^-----BEGIN CERTIFICATE-----/);

    const again = await run(['pki', 'sign', join(node, 'edge-01.csr'), '--node', 'edge-01', '--dir', pki]);
    assert.equal(again.code, 1, 'a second certificate is refused');
    assert.match(again.err, /FM_PKI_REFUSED: node edge-01 \(site ranch\) holds certificate .*: renew it/);

    const renewed = await run(['pki', 'renew', 'edge-01', '--dir', pki, '--days', '90']);
    assert.equal(renewed.code, 0, renewed.err);
    assert.match(renewed.out, /the old one \([0-9a-f]+\) stays valid until/);

    const list = await run(['pki', 'list', '--dir', pki, '--json']);
    const rows = JSON.parse(list.out) as { node: string; site: string; state: string; daysLeft: number }[];
    assert.deepEqual(
      rows.map((r) => [r.node, r.site, r.state]),
      [
        ['edge-01', 'ranch', 'valid'],
        ['edge-01', 'ranch', 'valid'],
      ],
    );
    assert.deepEqual(rows.map((r) => r.daysLeft).sort(), [364, 89].sort());

    const revoked = await run(['pki', 'revoke', 'edge-01', '--reason', 'superseded', '--dir', pki]);
    assert.equal(revoked.code, 0, revoked.err);
    assert.match(revoked.out, /^superseded edge-01 serial [0-9a-f]+ \(superseded\)$/m);
    assert.match(revoked.out, /CRL number 2 \(1 entries/);
    const table = await run(['pki', 'list', '--dir', pki]);
    assert.match(table.out, /^NODE +SITE +SERIAL +NOT AFTER +DAYS LEFT +STATE +SUBJECT$/m);
    assert.match(table.out, /edge-01 +ranch +[0-9a-f]+ +\d{4}-\d\d-\d\d +364 +superseded +CN=edge-01, O=acme, OU=ranch/);

    const crl = await run(['pki', 'crl', '--dir', pki]);
    assert.equal(crl.code, 0, crl.err);
    assert.match(crl.out, /^-----BEGIN X509 CRL-----/);
    assert.match(crl.err, /CRL number 3, 1 entries/);
    const current = await run(['pki', 'crl', '--current', '--dir', pki]);
    assert.match(current.err, /CRL number 3,/);
  } finally {
    delete process.env[PASSPHRASE_FILE_ENV];
  }
});

test('cli pki: bad input exits 2 naming the file or flag; a refusal exits 1', async () => {
  const root = tempDir();
  const pki = join(root, 'pki');
  assert.equal((await run(['pki', 'init', '--dir', pki, '--fleet', 'acme'])).code, 0);
  const cases: [string[], number, RegExp][] = [
    [['pki', 'init', '--dir', pki, '--fleet', 'acme'], 1, /FM_PKI_REFUSED: .*pki\.json exists already/],
    [['pki', 'list', '--dir', join(root, 'nowhere')], 2, /FM_PKI_INVALID: .*nowhere is not a PKI folder: .*pki\.json is missing/],
    [
      ['pki', 'sign', join(root, 'missing.csr'), '--node', 'n1', '--dir', pki],
      2,
      /FM_PKI_INVALID: CSR .*missing\.csr cannot be read: ENOENT/,
    ],
    [['pki', 'issue', 'n1', '--site', 'Ranch!', '--dir', pki], 2, /FM_PKI_INVALID: --site "Ranch!" must be/],
    [['pki', 'issue', 'n1', '--site', 'ranch', '--days', 'soon', '--dir', pki], 2, /FM_CLI_USAGE: --days soon/],
    [
      ['pki', 'revoke', 'n1', '--reason', 'bored', '--dir', pki],
      2,
      /FM_PKI_INVALID: --reason "bored" is not one of unspecified, key-compromise/,
    ],
    [['pki', 'revoke', 'n1', '--dir', pki], 2, /required option '--reason <reason>'/],
    [
      ['pki', 'revoke', 'n1', '--reason', 'key-compromise', '--dir', pki],
      1,
      /FM_PKI_REFUSED: node n1 has no certificate in force to revoke/,
    ],
    [['pki', 'renew', 'n1', '--dir', pki], 1, /FM_PKI_REFUSED: node n1 has no certificate from this CA/],
    [
      ['pki', 'init', '--dir', join(root, 'p2'), '--fleet', 'x', '--passphrase-file', join(root, 'nopass')],
      2,
      /--passphrase-file .*nopass cannot be read: ENOENT/,
    ],
    [
      ['pki', 'mosquitto-conf', '--dir', pki, '--fleet', 'ranch', '--out', join(root, 'mq')],
      2,
      /FM_CLI_USAGE: --fleet "ranch": expected a repository folder or SITE\/NODE/,
    ],
  ];
  for (const [args, code, pattern] of cases) {
    const c = capture();
    const got = await main(args, c.io);
    assert.equal(got, code, `${args.join(' ')}: ${c.text()}`);
    assert.match(c.text(), pattern, args.join(' '));
  }
  // A CSR for another node: refused (1), the file named.
  const node = join(root, 'node');
  assert.equal((await run(['pki', 'csr', 'n1', '--site', 'ranch', '--out', node])).code, 0);
  const other = await run(['pki', 'sign', join(node, 'n1.csr'), '--node', 'n2', '--dir', pki]);
  assert.equal(other.code, 1);
  assert.match(other.err, /FM_PKI_REFUSED: .*n1\.csr is for CN "n1", not for node n2/);
  // A wrong passphrase: 2.
  const enc = join(root, 'enc');
  writeFileSync(join(root, 'right'), 'right one\n');
  writeFileSync(join(root, 'wrong'), 'wrong one\n');
  assert.equal((await run(['pki', 'init', '--dir', enc, '--fleet', 'acme', '--passphrase-file', join(root, 'right')])).code, 0);
  const wrong = await run(['pki', 'issue', 'n1', '--site', 'ranch', '--dir', enc, '--passphrase-file', join(root, 'wrong')]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.err, /FM_PKI_PASSPHRASE: .*ca\.key: wrong passphrase/);
});

test('cli pki mosquitto-conf: the listener and ACL for the shipped configuration repository', async () => {
  const root = tempDir();
  const pki = join(root, 'pki');
  const out = join(root, 'mosquitto');
  assert.equal((await run(['pki', 'init', '--dir', pki, '--fleet', 'acme'])).code, 0);
  const written = await run(['pki', 'mosquitto-conf', '--dir', pki, '--fleet', EXAMPLE, '--out', out]);
  assert.equal(written.code, 0, written.err);
  assert.match(written.out, /fieldmesh\.acl \(5 node\(s\)\)/);
  assert.match(written.err, /broker\.crt is not there yet: issue the broker's certificate/);
  const conf = readFileSync(join(out, 'fieldmesh-tls.conf'), 'utf8');
  assert.match(conf, new RegExp(`^crlfile ${join(out, 'crl.pem')}$`, 'm'));
  assert.match(conf, /^require_certificate true$/m);
  assert.equal(readFileSync(join(out, 'ca.crt'), 'utf8'), readFileSync(join(pki, 'ca.crt'), 'utf8'));
  const acl = readFileSync(join(out, 'fieldmesh.acl'), 'utf8');
  // ridge nodes are zone-only members of the consensus zone ridge-crest; valley nodes are neither.
  assert.match(
    acl,
    /user ridge-01\n(topic .*\n)*topic read fieldmesh\/_hub\/aware\/ridge-crest\ntopic read fieldmesh\/ridge\/\+\/zone\/\+\n/,
  );
  assert.match(acl, /user ridge-01\n(topic .*\n)*topic write fieldmesh\/ridge\/ridge-01\/zone\/ridge-crest\n/, 'the topic of its zone');
  assert.doesNotMatch(acl, /^topic write fieldmesh\/[a-z-]+\/valley-02\/zone/m, 'no zone lists valley-02');
  assert.match(acl, /user valley-02\n(topic .*\n)*topic read fieldmesh\/_hub\/aware\n$/);
  assert.equal(acl.match(/^user /gm)?.length, 6, 'five nodes and the hub');
});
