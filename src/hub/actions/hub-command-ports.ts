// The command engine's ports over the hub's real parts: the fleet state, the node commands through the
// broker, the rebirth request with the next birth, and a node's return (its next birth).

import type { Clock } from '../../kit/index.js';
import type { FleetState } from '../fleet/fleet-state.js';
import type { NodeCommands } from '../node-commands.js';
import type { BirthWatch } from './birth-watch.js';
import type { CommandPorts } from './command-engine.js';

export interface HubCommandPortsOptions {
  readonly fleet: FleetState;
  readonly births: BirthWatch;
  /** Built after the engine; only called once a run starts. */
  readonly nodeCommands: () => NodeCommands;
  readonly sendRebirth: (site: string, node: string) => Promise<void>;
  readonly clock: Clock;
}

export function createHubCommandPorts(o: HubCommandPortsOptions): CommandPorts {
  return {
    nodes: () => o.fleet.nodes().map((r) => ({ site: r.site, node: r.node, zone: r.zone, state: r.state })),
    state: (site, node) => o.fleet.get(site, node)?.state,
    ping: (site, node, timeoutMs) => o.nodeCommands().ping(site, node, timeoutMs),
    async rebirth(site, node, signal) {
      // Watch before asking: the birth may arrive before the publish resolves.
      const local = new AbortController();
      const born = o.births.next(site, node, AbortSignal.any([signal, local.signal]));
      born.catch(() => {});
      try {
        await o.sendRebirth(site, node);
      } catch (err) {
        local.abort(err);
        throw err;
      }
      await born;
    },
    query: (site, node, request, timeoutMs) => o.nodeCommands().query(site, node, request, timeoutMs),
    zoneCommand: (site, node, command, timeoutMs) => o.nodeCommands().zoneCommand(site, node, command, timeoutMs),
    command: (site, node, name, args, by, timeoutMs) => o.nodeCommands().command(site, node, name, args, by, timeoutMs),
    async waitOnline(site, node, ms, signal) {
      if (o.fleet.get(site, node)?.state !== 'offline') return true;
      // A node that comes back announces itself with a birth.
      const local = new AbortController();
      const timer = o.clock.setTimeout(() => local.abort(), ms);
      try {
        await o.births.next(site, node, AbortSignal.any([signal, local.signal]));
        return true;
      } catch {
        return false;
      } finally {
        o.clock.clearTimeout(timer);
      }
    },
  };
}
