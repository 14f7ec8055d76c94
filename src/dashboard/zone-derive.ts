// What the overview, the site page and the store need of zones, computed from the hub's answers without
// touching the store or the DOM (unit-tested in Node): live messages read, majority, fire and pump words
// with their shapes, voters in words, the overview's zone lines, a site's zones. The zone page's own
// derivations are in pages/zones/zone-view.ts (loaded with that page).

import type { PumpStateName, ZoneSummary } from './types.js';

/** A state as the console draws it: a CSS class for the colour, a shape and a word. */
export interface Mark {
  readonly cls: 'ok' | 'warn' | 'error' | 'unknown' | 'active';
  readonly icon: string;
  readonly word: string;
}

/**
 * A live `zone` message: the summary itself, or `{zone: summary}` (both readings of the contract's
 * `{type: 'zone', zone: ZoneSummary}`); anything else is ignored.
 */
export function zoneFromMessage(d: unknown): ZoneSummary | undefined {
  const o = d as { zone?: unknown; epoch?: unknown } | null;
  if (o === null || typeof o !== 'object') return undefined;
  if (typeof o.zone === 'object' && o.zone !== null && typeof (o.zone as ZoneSummary).zone === 'string') return o.zone as ZoneSummary;
  if (typeof o.zone === 'string' && typeof o.epoch === 'number') return o as ZoneSummary;
  return undefined;
}

/** "ridge/north" when the hub knows the zone's site, else the zone id. */
export function zoneLabel(z: Pick<ZoneSummary, 'zone' | 'site'>): string {
  return z.site === null || z.site === '' ? z.zone : `${z.site}/${z.zone}`;
}

export function majorityMark(visible: boolean): Mark {
  return visible ? { cls: 'ok', icon: '✓', word: 'majority visible' } : { cls: 'error', icon: '✕', word: 'no majority' };
}

export function fireMark(fire: boolean): Mark {
  return fire ? { cls: 'error', icon: '▲', word: 'fire' } : { cls: 'unknown', icon: '○', word: 'no fire' };
}

const PUMP_MARKS: Record<PumpStateName, Mark> = {
  running: { cls: 'active', icon: '▶', word: 'running' },
  stopped: { cls: 'unknown', icon: '■', word: 'stopped' },
  estop: { cls: 'error', icon: '⊘', word: 'emergency stop' },
  fault: { cls: 'error', icon: '✕', word: 'fault' },
  unknown: { cls: 'unknown', icon: '?', word: 'unknown' },
};

export function pumpMark(state: PumpStateName): Mark {
  return PUMP_MARKS[state] ?? PUMP_MARKS.unknown;
}

/** "2 of 3 online · 2 needed" */
export function votersText(online: number, voters: number, needed: number): string {
  return `${online} of ${voters} online · ${needed} needed`;
}
/** What the overview says about zones: lines for those that need a look, worst first. */
export interface ZoneLine {
  readonly kind: 'fire' | 'pumps-running' | 'no-majority';
  readonly tone: 'warn' | 'error' | 'active';
  readonly icon: string;
  /** "pumps running in": the zones follow, as links on the page. */
  readonly lead: string;
  /** The whole sentence: "pumps running in ridge/north and ridge/east". */
  readonly text: string;
  readonly zones: readonly ZoneSummary[];
}

function names(zs: readonly ZoneSummary[]): string {
  const labels = zs.map(zoneLabel);
  return labels.length <= 2 ? labels.join(' and ') : `${labels.slice(0, -1).join(', ')} and ${labels[labels.length - 1]}`;
}

export function zoneLines(zones: Iterable<ZoneSummary>): ZoneLine[] {
  const all = [...zones].sort((a, b) => zoneLabel(a).localeCompare(zoneLabel(b)));
  const lines: ZoneLine[] = [];
  const fire = all.filter((z) => z.fire);
  const running = all.filter((z) => z.pumpsRunning > 0);
  const lost = all.filter((z) => !z.majorityVisible);
  const line = (kind: ZoneLine['kind'], tone: ZoneLine['tone'], icon: string, lead: string, zs: ZoneSummary[]) =>
    lines.push({ kind, tone, icon, lead, text: `${lead} ${names(zs)}`, zones: zs });
  const pumps = running.reduce((n, z) => n + z.pumpsRunning, 0);
  if (fire.length > 0) line('fire', 'error', '▲', 'fire seen in', fire);
  if (running.length > 0) line('pumps-running', 'active', '▶', `${pumps === 1 ? 'pump' : 'pumps'} running in`, running);
  if (lost.length > 0) line('no-majority', 'error', '✕', 'no majority visible in', lost);
  return lines;
}

/** The zones of a site, by id; zones the hub places at no site belong to none. */
export function zonesOfSite(zones: Iterable<ZoneSummary>, site: string): ZoneSummary[] {
  return [...zones].filter((z) => z.site === site).sort((a, b) => a.zone.localeCompare(b.zone));
}
