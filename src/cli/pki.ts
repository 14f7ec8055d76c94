// `fieldmesh pki init|issue|csr|sign|renew|revoke|crl|list|mosquitto-conf`: the fleet CA in a PKI folder (`--dir`),
// the node's key and CSR made on the node, certificates renewed with overlap and revoked into a CRL, and a Mosquitto
// listener with its ACL. Exit codes: 0 done; 1 the CA refused (a CSR for another node, a second certificate, nothing
// to renew or revoke); 2 usage or a bad file (named), a missing or wrong passphrase. docs/pki.md.

import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { loadConfigRepo, renderAllNodes, zonesOfNode } from '../fleet-config/index.js';
import { FieldmeshError, isFieldmeshError } from '../kit/index.js';
import {
  type AclNode,
  type CertificateListing,
  type FleetCa,
  initFleetCa,
  mosquittoAcl,
  mosquittoListener,
  openFleetCa,
  PKI_FILES,
  parseRevocationReason,
  writeFileAtomic,
  writeNodeCsr,
} from '../pki/index.js';
import { type ConfiguredZone, DEFAULT_TOPIC_PREFIX, zoneWriters } from '../protocol/index.js';
import { type CliIo, errorText } from './io.js';
import { formatTable } from './status.js';

/** The file of the CA key's passphrase when --passphrase-file is not given. */
export const PASSPHRASE_FILE_ENV = 'FIELDMESH_PKI_PASSPHRASE_FILE';

interface CaFlags {
  dir: string;
  keyDir?: string;
  passphraseFile?: string;
}

const EXIT_USAGE: ReadonlySet<string> = new Set([
  'FM_CLI_USAGE',
  'FM_PKI_INVALID',
  'FM_PKI_PASSPHRASE',
  'FM_FLEET_CONFIG_UNREADABLE',
  'FM_FLEET_CONFIG_INVALID',
]);

/** Runs a subcommand: a bad input or passphrase exits 2, a refusal 1, each with one line naming what and where. */
async function guarded(io: CliIo, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    if (isFieldmeshError(err) && (EXIT_USAGE.has(err.code) || err.code === 'FM_PKI_REFUSED')) {
      io.err(errorText(err));
      process.exitCode = err.code === 'FM_PKI_REFUSED' ? 1 : 2;
      return;
    }
    throw err;
  }
}

/** The passphrase from `--passphrase-file`, else from the file FIELDMESH_PKI_PASSPHRASE_FILE names: its first line. */
export function readPassphrase(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = flag ?? (env[PASSPHRASE_FILE_ENV] === '' ? undefined : env[PASSPHRASE_FILE_ENV]);
  if (file === undefined) return undefined;
  const how = flag === undefined ? PASSPHRASE_FILE_ENV : '--passphrase-file';
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FieldmeshError(
      'FM_PKI_INVALID',
      `${how} ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const first = text.split(/\r?\n/)[0] ?? '';
  if (first === '') throw new FieldmeshError('FM_PKI_INVALID', `${how} ${file}: the first line (the passphrase) is empty`);
  return first;
}

function openCa(flags: CaFlags): FleetCa {
  const passphrase = readPassphrase(flags.passphraseFile);
  return openFleetCa({
    dir: flags.dir,
    ...(flags.keyDir === undefined ? {} : { keyDir: flags.keyDir }),
    ...(passphrase === undefined ? {} : { passphrase }),
  });
}

function readInput(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new FieldmeshError(
      'FM_PKI_INVALID',
      `${what} ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

function days(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1)
    throw new FieldmeshError('FM_CLI_USAGE', `--days ${value}: a whole number of days from 1`);
  return n;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function dirOption(): Option {
  return new Option('--dir <dir>', 'the PKI folder (pki.json, ca.crt, index.json, crl.pem, certs/)').default('.');
}

function caOptions(cmd: Command): Command {
  return cmd
    .addOption(dirOption())
    .option('--key-dir <dir>', 'where ca.key is now, when init kept it in a separate (offline) folder mounted elsewhere')
    .option('--passphrase-file <file>', `the CA key's passphrase (first line); else ${PASSPHRASE_FILE_ENV}`);
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

function listingTable(rows: readonly CertificateListing[]): string {
  return formatTable([
    ['NODE', 'SITE', 'SERIAL', 'NOT AFTER', 'DAYS LEFT', 'STATE', 'SUBJECT'],
    ...rows.map((r) => [r.node, r.site, r.serial, day(r.notAfter), String(r.daysLeft), r.state, r.subject]),
  ]);
}

export function registerPki(program: Command, io: CliIo): void {
  const pki = program
    .command('pki')
    .description(
      "the fleet CA: node certificates (made here, or from a node's CSR), renewal with overlap, revocation and the CRL, a Mosquitto TLS listener and ACL",
    );

  pki
    .command('init')
    .description(
      'create the fleet CA (ECDSA P-256, self-signed, CA:true pathlen 0) in --dir; the key 0600, optionally encrypted or in --key-dir',
    )
    .addOption(dirOption())
    .requiredOption('--fleet <name>', "the fleet's name (O of every certificate)")
    .option('--days <n>', 'validity of the CA certificate in days', days, 3650)
    .option('--crl-days <n>', 'days from each CRL to its nextUpdate', days, 30)
    .option('--key-dir <dir>', 'keep ca.key in this folder instead (removable media, kept offline)')
    .option('--passphrase-file <file>', `encrypt ca.key with the passphrase on this file's first line; else ${PASSPHRASE_FILE_ENV}`)
    .action((flags: CaFlags & { fleet: string; days: number; crlDays: number }) =>
      guarded(io, async () => {
        const passphrase = readPassphrase(flags.passphraseFile);
        const ca = await initFleetCa({
          dir: flags.dir,
          fleet: flags.fleet,
          days: flags.days,
          crlDays: flags.crlDays,
          ...(flags.keyDir === undefined ? {} : { keyDir: flags.keyDir }),
          ...(passphrase === undefined ? {} : { passphrase }),
        });
        io.out(`fleet CA "${ca.certificate.subject}" valid until ${ca.certificate.notAfter.toISOString()}`);
        io.out(`  certificate ${ca.caFile}`);
        io.out(`  key         ${ca.keyFile} (0600${passphrase === undefined ? ', not encrypted' : ', encrypted'})`);
        io.out(`  CRL         ${ca.crlFile}`);
      }),
    );

  caOptions(
    pki
      .command('issue <node>')
      .description("make a node's key here and sign it (bootstrapping by an admin); writes <node>.key (0600), <node>.crt and ca.crt")
      .requiredOption('--site <site>', "the node's site (OU)")
      .option('--san <name>', 'a DNS name or IP address the node answers on (repeat, or comma-separated)', collect)
      .option('--days <n>', 'validity in days', days, 365)
      .option('--out <dir>', 'where to write the files (default: <dir>/nodes/<node>)'),
  ).action((node: string, flags: CaFlags & { site: string; san?: string[]; days: number; out?: string }) =>
    guarded(io, async () => {
      const issued = await openCa(flags).issue(node, {
        site: flags.site,
        sans: flags.san ?? [],
        days: flags.days,
        ...(flags.out === undefined ? {} : { outDir: flags.out }),
      });
      io.out(`issued ${issued.record.subject} serial ${issued.record.serial} valid until ${issued.record.notAfter}`);
      io.out(`  key         ${issued.keyFile} (0600; unless this is ${node}'s own machine, move it there and delete it here)`);
      io.out(`  certificate ${issued.certFile}`);
      io.out(`  CA          ${issued.caFile}`);
    }),
  );

  pki
    .command('csr <node>')
    .description('on the node: make its key and a certificate request; the key never leaves this machine')
    .requiredOption('--site <site>', "the node's site (OU)")
    .requiredOption('--out <dir>', 'where to write <node>.key (0600) and <node>.csr')
    .option('--san <name>', 'a DNS name or IP address the node answers on (repeat, or comma-separated)', collect)
    .option('--fleet <name>', "the fleet's name for O (the CA writes its own when it signs)")
    .action((node: string, flags: { site: string; out: string; san?: string[]; fleet?: string }) =>
      guarded(io, async () => {
        const { keyFile, csrFile } = await writeNodeCsr(flags.out, {
          node,
          site: flags.site,
          sans: flags.san ?? [],
          ...(flags.fleet === undefined ? {} : { fleet: flags.fleet }),
        });
        io.out(`key ${keyFile} (0600, stays here)`);
        io.out(`CSR ${csrFile}: have it signed with fieldmesh pki sign ${csrFile} --node ${node}`);
      }),
    );

  caOptions(
    pki
      .command('sign <csr>')
      .description("sign a node's CSR: its signature, CN = --node and a P-256 key are checked; the site is its OU unless --site")
      .requiredOption('--node <id>', 'the node the CSR must be for (its CN)')
      .option('--site <site>', "the node's site (default: the CSR's OU)")
      .option('--days <n>', 'validity in days', days, 365)
      .option('--out <file>', 'where to write the certificate (default: next to the CSR, <node>.crt)'),
  ).action((csrFile: string, flags: CaFlags & { node: string; site?: string; days: number; out?: string }) =>
    guarded(io, async () => {
      const signed = await openCa(flags).sign(readInput(csrFile, 'CSR'), {
        node: flags.node,
        days: flags.days,
        source: csrFile,
        ...(flags.site === undefined ? {} : { site: flags.site }),
      });
      const out = resolve(flags.out ?? join(resolve(csrFile, '..'), `${flags.node}.crt`));
      writeFileAtomic(out, signed.certificatePem);
      io.out(`signed ${signed.record.subject} serial ${signed.record.serial} valid until ${signed.record.notAfter}`);
      io.out(`  certificate ${out} (with the CA's ${join(resolve(flags.dir), PKI_FILES.caCert)}, back to the node)`);
    }),
  );

  caOptions(
    pki
      .command('renew <node>')
      .description(
        "a new certificate for the node, valid from now; the old one stays valid until its end (overlap) or 'revoke NODE --reason superseded'",
      )
      .option('--csr <file>', 'a CSR with a new key (default: the current key again)')
      .option('--days <n>', 'validity in days (default: that of the current certificate)', days)
      .option('--out <file>', 'also write the certificate here'),
  ).action((node: string, flags: CaFlags & { csr?: string; days?: number; out?: string }) =>
    guarded(io, async () => {
      const renewed = await openCa(flags).renew(node, {
        ...(flags.csr === undefined ? {} : { csrPem: readInput(flags.csr, 'CSR'), source: flags.csr }),
        ...(flags.days === undefined ? {} : { days: flags.days }),
      });
      if (flags.out !== undefined) writeFileAtomic(resolve(flags.out), renewed.certificatePem);
      io.out(`renewed ${node}: serial ${renewed.record.serial} valid ${renewed.record.notBefore} to ${renewed.record.notAfter}`);
      io.out(`  certificate ${flags.out === undefined ? renewed.certificateFile : resolve(flags.out)}`);
      io.out(`  the old one (${renewed.renewed.serial}) stays valid until ${renewed.renewed.notAfter}; once the node uses the new one:`);
      io.out(`  fieldmesh pki revoke ${node} --reason superseded --dir ${flags.dir}`);
    }),
  );

  caOptions(
    pki
      .command('revoke <target>')
      .description('revoke a certificate by serial, or every one of a node (superseded: all but its newest); signs a new CRL')
      .requiredOption(
        '--reason <reason>',
        'unspecified, key-compromise, ca-compromise, affiliation-changed, superseded, cessation-of-operation or privilege-withdrawn',
      ),
  ).action((target: string, flags: CaFlags & { reason: string }) =>
    guarded(io, async () => {
      const reason = parseRevocationReason(flags.reason);
      const { revoked, crl } = await openCa(flags).revoke(target, reason);
      for (const r of revoked) io.out(`${r.state} ${r.node} serial ${r.serial} (${reason})`);
      io.out(`CRL number ${crl.number} (${crl.entries} entries, next update ${crl.nextUpdate?.toISOString() ?? 'none'}) in ${crl.file}`);
      io.out('  copy it to every broker and hub that checks client certificates, and reload them (Mosquitto: SIGHUP)');
    }),
  );

  caOptions(
    pki
      .command('crl')
      .description('sign a fresh CRL (the number grows, nextUpdate moves on) and print it; --current prints the one on disk')
      .option('--current', 'print the CRL on disk without signing (no CA key needed)')
      .option('--out <file>', 'also write the CRL here'),
  ).action((flags: CaFlags & { current?: boolean; out?: string }) =>
    guarded(io, async () => {
      const ca = openCa(flags);
      const crl = flags.current === true ? ca.currentCrl() : await ca.refreshCrl();
      if (flags.out !== undefined) writeFileAtomic(resolve(flags.out), crl.pem);
      io.out(crl.pem.trimEnd());
      io.err(`CRL number ${crl.number}, ${crl.entries} entries, next update ${crl.nextUpdate?.toISOString() ?? 'none'} (${crl.file})`);
    }),
  );

  pki
    .command('list')
    .description('every certificate issued: node, site, serial, expiry, days left, state (valid, expired, revoked, superseded)')
    .addOption(dirOption())
    .option('--json', 'print a JSON list')
    .action((flags: { dir: string; json?: boolean }) =>
      guarded(io, async () => {
        const rows = openFleetCa({ dir: flags.dir }).list();
        if (flags.json === true) io.out(JSON.stringify(rows, null, 2));
        else if (rows.length === 0) io.out('no certificates issued yet');
        else io.out(listingTable(rows));
      }),
    );

  pki
    .command('mosquitto-conf')
    .description('write a Mosquitto TLS listener (client certificate required, CN as user name, CRL, TLS >= 1.2) and its ACL for the fleet')
    .addOption(dirOption())
    .requiredOption('--fleet <repo-or-nodes>', 'a configuration repository folder, or SITE/NODE[/ZONE] entries separated by commas')
    .requiredOption('--out <dir>', 'where to write fieldmesh-tls.conf, fieldmesh.acl, ca.crt and crl.pem')
    .option('--prefix <prefix>', `topic prefix when the nodes are listed (default ${DEFAULT_TOPIC_PREFIX}; a repository gives its own)`)
    .option('--port <port>', 'the TLS listener port', (v: string) => Number(v), 8883)
    .option('--bind <address>', 'the address to listen on (default: all)')
    .option('--hub <id>', "the hub's certificate CN, with read and write on the whole prefix (repeat; default hub)", collect)
    .option('--aggregator <node>', 'a node that may act as the awareness aggregator (repeat)', collect)
    .option('--certfile <file>', "the broker's own certificate (default <out>/broker.crt, e.g. from 'pki issue broker --out <out>')")
    .option('--keyfile <file>', "the broker's own key (default <out>/broker.key)")
    .action(
      (flags: {
        dir: string;
        fleet: string;
        out: string;
        prefix?: string;
        port: number;
        bind?: string;
        hub?: string[];
        aggregator?: string[];
        certfile?: string;
        keyfile?: string;
      }) =>
        guarded(io, async () => {
          const { nodes, prefix, source } = readFleet(flags.fleet, flags.prefix);
          const ca = openFleetCa({ dir: flags.dir });
          const out = resolve(flags.out);
          mkdirSync(out, { recursive: true });
          const files = {
            cafile: join(out, PKI_FILES.caCert),
            crlfile: join(out, PKI_FILES.crl),
            aclFile: join(out, 'fieldmesh.acl'),
            certfile: resolve(flags.certfile ?? join(out, 'broker.crt')),
            keyfile: resolve(flags.keyfile ?? join(out, 'broker.key')),
          };
          const acl = mosquittoAcl({ prefix, nodes, hubs: flags.hub ?? ['hub'], aggregators: flags.aggregator ?? [], source });
          const listener = mosquittoListener({ port: flags.port, ...(flags.bind === undefined ? {} : { bind: flags.bind }), ...files });
          copyFileSync(ca.caFile, files.cafile);
          copyFileSync(ca.crlFile, files.crlfile);
          writeFileAtomic(files.aclFile, acl);
          const conf = join(out, 'fieldmesh-tls.conf');
          writeFileAtomic(conf, listener);
          io.out(`wrote ${conf}, ${files.aclFile} (${nodes.length} node(s)), ${files.cafile}, ${files.crlfile}`);
          io.out(`  add to mosquitto.conf: include_dir ${out}`);
          for (const f of [files.certfile, files.keyfile]) {
            if (!existsSync(f))
              io.err(
                `note: ${f} is not there yet: issue the broker's certificate (fieldmesh pki issue broker --site SITE --san HOST --out ${out})`,
              );
          }
        }),
    );
  // main() turns a usage error into exit 2 for the commands it knows; these sit one level deeper.
  for (const cmd of pki.commands) cmd.exitOverride();
}

/** [FM-ZONE-SIGN-6] The zones whose topic `node` may write (as the broker and the agent judge it); undefined without zones. */
function writableZones(node: string, zones: readonly ConfiguredZone[] | undefined): string[] | undefined {
  return zones?.filter((z) => zoneWriters(z, zones).has(node)).map((z) => z.id);
}

/** The nodes of `--fleet`: a configuration repository, or `SITE/NODE[/ZONE]` entries. */
function readFleet(value: string, prefixFlag: string | undefined): { nodes: AclNode[]; prefix: string; source: string } {
  if (existsSync(value) && statSync(value).isDirectory()) {
    const repo = loadConfigRepo(value);
    const rendered = renderAllNodes(repo);
    const prefixes = new Set(rendered.map((r) => r.parsed?.topicPrefix ?? DEFAULT_TOPIC_PREFIX));
    if (prefixFlag !== undefined) prefixes.clear();
    if (prefixes.size > 1) {
      throw new FieldmeshError(
        'FM_PKI_INVALID',
        `${value}: the nodes use several topic prefixes (${[...prefixes].join(', ')}); give --prefix`,
      );
    }
    const nodes = rendered.map((r) => ({
      node: r.nodeId,
      site: r.site,
      ...(r.parsed?.awareness.zoneOnly === true ? { awarenessZone: r.zone } : {}),
      zones: writableZones(r.nodeId, r.parsed?.zones) ?? zonesOfNode(repo, r.nodeId).map((z) => z.id),
    }));
    if (nodes.length === 0) throw new FieldmeshError('FM_PKI_INVALID', `${value}: the configuration repository defines no node`);
    return { nodes, prefix: prefixFlag ?? [...prefixes][0] ?? DEFAULT_TOPIC_PREFIX, source: repo.root };
  }
  const nodes = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry) => {
      const [site, node, zone, extra] = entry.split('/');
      if (site === undefined || node === undefined || extra !== undefined || site === '' || node === '' || zone === '') {
        throw new FieldmeshError(
          'FM_CLI_USAGE',
          `--fleet ${JSON.stringify(entry)}: expected a repository folder or SITE/NODE[/ZONE] (e.g. ranch/edge-01/north)`,
        );
      }
      return { node, site, ...(zone === undefined ? {} : { awarenessZone: zone }) };
    });
  if (nodes.length === 0) throw new FieldmeshError('FM_CLI_USAGE', '--fleet names no node');
  return { nodes, prefix: prefixFlag ?? DEFAULT_TOPIC_PREFIX, source: '--fleet' };
}
