// A Mosquitto listener that requires a client certificate of the fleet CA and takes the node id (CN) as the user
// name, and the ACL that lets each node write only its own topics. The topics come from the protocol's builders.

import { awareSubscription, digestTopic } from '../awareness/index.js';
import { FieldmeshError } from '../kit/index.js';
import {
  assertTopicPrefix,
  commandTopic,
  hubAssignTopic,
  hubCertTopic,
  hubConfigTopic,
  hubTopic,
  NODE_CHANNELS,
  type NodeCommand,
  nodeTopic,
  zoneSubscription,
  zoneTopic,
} from '../protocol/index.js';
import { assertId } from './names.js';

/** Every command a node listens for ([FM-TOPIC-3]); the record makes the compiler name one added to NodeCommand. */
const NODE_COMMANDS: Readonly<Record<NodeCommand, true>> = { rebirth: true, ack: true, backfill: true, query: true };

/** One node as the ACL needs it. */
export interface AclNode {
  readonly node: string;
  readonly site: string;
  /** With `awareness.zoneOnly`, the zone whose digest it reads (`<prefix>/_hub/aware/<zone>`); else the fleet's. */
  readonly awarenessZone?: string;
  /**
   * [FM-ZONE-SIGN-6] The consensus zones whose topic it writes (`<prefix>/<site>/<node>/zone/<zone>`, one line each);
   * non-empty: it also reads its site's zone frames (`<prefix>/<site>/+/zone/+`). Empty (a configuration repository
   * whose zones list it nowhere): it writes no zone topic. Absent (nodes listed by hand, zones unknown): it writes
   * its own of every zone (`.../zone/+`), reads none.
   */
  readonly zones?: readonly string[];
}

export interface MosquittoAclOptions {
  /** The topic prefix of the fleet ([FM-TOPIC-1], default `fieldmesh`). */
  readonly prefix: string;
  readonly nodes: readonly AclNode[];
  /** Identities (certificate CNs) with read and write on the whole prefix: the hub. */
  readonly hubs: readonly string[];
  /** Nodes that may act as the awareness aggregator ([FM-AWARE-5]): read every node's frames, write the digests. */
  readonly aggregators?: readonly string[];
  /** Where the nodes came from, for the header comment. */
  readonly source?: string;
}

/** The ACL file: per identity, the topics it may read and write; anything not listed is denied. */
export function mosquittoAcl(options: MosquittoAclOptions): string {
  const prefix = assertTopicPrefix(options.prefix);
  const seen = new Map<string, string>();
  for (const n of options.nodes) {
    assertId(n.node, 'node id');
    assertId(n.site, 'site');
    const other = seen.get(n.node);
    if (other !== undefined) {
      throw new FieldmeshError(
        'FM_PKI_INVALID',
        `node id ${n.node} is on sites ${other} and ${n.site}: a certificate's CN must name one node`,
      );
    }
    seen.set(n.node, n.site);
  }
  for (const hub of options.hubs) {
    assertId(hub, '--hub');
    if (seen.has(hub)) throw new FieldmeshError('FM_PKI_INVALID', `--hub ${hub} is also a node id; give the hub another identity`);
  }
  const aggregators = new Set(options.aggregators ?? []);
  for (const a of aggregators) {
    if (!seen.has(a)) throw new FieldmeshError('FM_PKI_INVALID', `--aggregator ${a} is not a node of ${options.source ?? 'the fleet'}`);
  }

  const lines = [
    `# Mosquitto ACL of the fleet's nodes, written by fieldmesh pki mosquitto-conf${options.source === undefined ? '' : ` from ${options.source}`}.`,
    '# With use_identity_as_username, a client is the CN of its certificate: the node id. Anything not listed is denied.',
    '# Per-user lines, not %u patterns: a pattern can put only the user name in a topic, and a node topic also holds its site.',
  ];
  for (const hub of options.hubs) {
    lines.push(
      '',
      `# ${hub}: the hub reads every node and writes commands, configs, digests and its state.`,
      `user ${hub}`,
      `topic readwrite ${prefix}/#`,
    );
  }
  for (const n of [...options.nodes].sort((a, b) => a.site.localeCompare(b.site) || a.node.localeCompare(b.node))) {
    lines.push('', `# node ${n.node}, site ${n.site}`, `user ${n.node}`);
    for (const channel of NODE_CHANNELS) lines.push(`topic write ${nodeTopic(prefix, n.site, n.node, channel)}`);
    // [FM-ZONE-SIGN-6] The frames of zone Z (and the certificate retained there) only from a node zone Z lists.
    for (const zone of n.zones ?? ['+']) lines.push(`topic write ${zoneTopic(prefix, n.site, n.node, zone)}`);
    for (const verb of Object.keys(NODE_COMMANDS) as NodeCommand[]) lines.push(`topic read ${commandTopic(prefix, n.site, n.node, verb)}`);
    lines.push(`topic read ${hubTopic(prefix, 'state')}`);
    lines.push(`topic read ${hubConfigTopic(prefix, n.site, n.node)}`);
    lines.push(`topic read ${hubAssignTopic(prefix, n.site, n.node)}`);
    lines.push(`topic read ${hubCertTopic(prefix, n.site, n.node)}`);
    lines.push(`topic read ${digestTopic(prefix, n.awarenessZone)}`);
    if (n.zones !== undefined && n.zones.length > 0) lines.push(`topic read ${zoneSubscription(prefix, n.site)}`);
    if (aggregators.has(n.node)) {
      lines.push(`topic read ${awareSubscription(prefix)}`);
      lines.push(`topic write ${digestTopic(prefix)}`, `topic write ${digestTopic(prefix, '+')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export interface MosquittoListenerOptions {
  /** Default 8883, the IANA port of MQTT over TLS. */
  readonly port?: number;
  /** Address to bind (all when omitted). */
  readonly bind?: string;
  readonly cafile: string;
  readonly certfile: string;
  readonly keyfile: string;
  readonly crlfile: string;
  readonly aclFile: string;
}

/** The listener block (and the acl_file line, a global option) to include from mosquitto.conf. */
export function mosquittoListener(o: MosquittoListenerOptions): string {
  const port = o.port ?? 8883;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new FieldmeshError('FM_PKI_INVALID', `--port ${port} is not a TCP port`);
  return [
    '# MQTT over TLS for the fleet, written by fieldmesh pki mosquitto-conf: every client shows a certificate of the fleet CA,',
    '# its CN (the node id) is its user name for the ACL, revoked certificates are refused by the CRL, TLS 1.2 at least.',
    `listener ${port}${o.bind === undefined ? '' : ` ${o.bind}`}`,
    `cafile ${o.cafile}`,
    `certfile ${o.certfile}`,
    `keyfile ${o.keyfile}`,
    `crlfile ${o.crlfile}`,
    'require_certificate true',
    'use_identity_as_username true',
    'tls_version tlsv1.2',
    `acl_file ${o.aclFile}`,
    '',
  ].join('\n');
}
