// Operators' zone commands from the hub: a pump action or an election, handed through the hub->node
// command path (cmd/query, [FM-QUERY-6]) to the pump's owner when it is online, else to any online member
// of the zone (whose zone engine forwards a pump action over the zone link). [FM-HUB-ZONE-5]

import { type Clock, createId, FieldmeshError, isFieldmeshError } from '../../kit/index.js';
import { ZONE_PUMP_ACTIONS, type ZonePumpAction } from '../../protocol/index.js';
import type { NodeCommands } from '../node-commands.js';
import type { HubStorage } from '../storage/storage.js';
import type { ZoneMonitor } from './zone-monitor.js';

/** How long the hub waits for the member's answer to a command, ms. */
export const ZONE_COMMAND_TIMEOUT_MS = 10_000;

export interface PumpCommandResult {
  readonly zone: string;
  readonly pump: string;
  readonly action: ZonePumpAction;
  readonly id: string;
  /** The node the command was handed to (`site/node`). */
  readonly via: string;
}

export interface ElectResult {
  readonly zone: string;
  readonly via: string;
  readonly epoch: number;
}

/** What the zone routes need: the monitor's views, the stored history, and the commands. */
export interface HubZones {
  readonly monitor: ZoneMonitor;
  readonly storage: Pick<HubStorage, 'queryEvents'>;
  readonly clock: Clock;
  /** Throws FM_NOT_FOUND (zone or pump), FM_REQUEST_INVALID (action), FM_NODE_OFFLINE (no member online), or the node's error. */
  pumpCommand(zone: string, pump: string, action: string, username: string): Promise<PumpCommandResult>;
  elect(zone: string, username: string): Promise<ElectResult>;
}

export interface HubZonesOptions {
  readonly monitor: ZoneMonitor;
  readonly storage: Pick<HubStorage, 'queryEvents'>;
  readonly clock: Clock;
  /** The hub's node commands (undefined: commands answer 503). */
  readonly nodeCommands: () => NodeCommands | undefined;
  readonly timeoutMs?: number;
}

function zoneOf(monitor: ZoneMonitor, zone: string) {
  const z = monitor.config(zone);
  if (z === undefined)
    throw new FieldmeshError(
      'FM_NOT_FOUND',
      `zone "${zone}" is not watched by this hub (its zones, from hub.yaml and the configuration repository: ${monitor.zoneIds().join(', ') || 'none'})`,
    );
  return z;
}

export function createHubZones(o: HubZonesOptions): HubZones {
  const timeoutMs = o.timeoutMs ?? ZONE_COMMAND_TIMEOUT_MS;

  /** Tries the members in order; a member that went offline or does not answer passes the command on. */
  async function handTo<T>(zone: string, pump: string | undefined, send: (site: string, node: string) => Promise<T>) {
    const targets = o.monitor.commandTargets(zone, pump);
    const commands = o.nodeCommands();
    if (commands === undefined) throw new FieldmeshError('FM_TRANSPORT_UNAVAILABLE', 'the hub has no command path to its nodes');
    if (targets.length === 0)
      throw new FieldmeshError('FM_NODE_OFFLINE', `no member of zone "${zone}" is online at the hub: the command cannot be handed to any`);
    let last: unknown;
    for (const t of targets) {
      try {
        return { result: await send(t.site, t.node), via: `${t.site}/${t.node}` };
      } catch (err) {
        // Only "not there": any other answer is the node's word on the command, and final.
        if (!isFieldmeshError(err) || !['FM_NODE_OFFLINE', 'FM_NODE_TIMEOUT'].includes(err.code)) throw err;
        last = err;
      }
    }
    throw last;
  }

  return {
    monitor: o.monitor,
    storage: o.storage,
    clock: o.clock,

    async pumpCommand(zone, pump, action, username) {
      const z = zoneOf(o.monitor, zone);
      if (!z.pumps.some((p) => p.id === pump))
        throw new FieldmeshError(
          'FM_NOT_FOUND',
          `zone "${zone}" has no pump "${pump}" (its pumps: ${z.pumps.map((p) => p.id).join(', ') || 'none'})`,
        );
      if (!(ZONE_PUMP_ACTIONS as readonly string[]).includes(action))
        throw new FieldmeshError('FM_REQUEST_INVALID', `action "${action}": expected one of ${ZONE_PUMP_ACTIONS.join(', ')}`);
      const id = `hub-${createId()}`;
      const by = `hub:${username}`;
      const { via } = await handTo(zone, pump, (site, node) =>
        (o.nodeCommands() as NodeCommands).zoneCommand(site, node, { zone, pump, action, by, id }, timeoutMs),
      );
      return { zone, pump, action: action as ZonePumpAction, id, via };
    },

    async elect(zone, _username) {
      zoneOf(o.monitor, zone);
      const { result, via } = await handTo(zone, undefined, (site, node) =>
        (o.nodeCommands() as NodeCommands).zoneElect(site, node, zone, timeoutMs),
      );
      return { zone, via, epoch: result.epoch };
    },
  };
}
