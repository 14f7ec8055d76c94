// The hub's view of the zones: hub.yaml `zones:` (and the repository's), the zone monitor, operators' zone commands, the API shapes.
export { type HubZone, hubZonesSchema } from './hub-zone-config.js';
export { createHubZones, type ElectResult, type HubZones, type PumpCommandResult, ZONE_COMMAND_TIMEOUT_MS } from './hub-zones.js';
export { ZONE_EVENT_KINDS, ZONE_REBUILD_MS, ZoneMonitor, type ZoneMonitorOptions, type ZoneSetChange } from './zone-monitor.js';
export type * from './zone-views.js';
