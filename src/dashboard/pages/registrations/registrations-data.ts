// Node registrations as the console reads them (GET /api/v1/registrations, admins), refetched on every live
// `registration` message; approve and reject. docs/registration.md.

import { useEffect, useState } from 'preact/hooks';
import { api, describeError, seg } from '../../api.js';
import { onRegistrationMessage } from '../../store.js';

export interface RegistrationInfo {
  readonly site: string;
  readonly node: string;
  readonly status: 'pending' | 'rejected' | 'approved';
  readonly zone: string | null;
  readonly agentVersion: string | null;
  /** ms since the Unix epoch (node clock for bootTime, hub clock for the others). */
  readonly bootTime: number | null;
  readonly configVersion: string | null;
  readonly firstSeen: number | null;
  readonly lastSeen: number | null;
  readonly births: number;
  readonly framesIgnored: number;
  readonly decidedBy: string | null;
  readonly decidedAt: number | null;
  readonly origin: string | null;
  /** The site and zone assigned at approval when they differ from what the node announced. [FM-ASSIGN-1] */
  readonly assignedSite?: string | null;
  readonly assignedZone?: string | null;
  readonly assignmentState?: 'publish' | 'retained' | 'clear' | null;
  readonly rebirthRequested?: boolean;
  readonly assignmentSent?: boolean;
}

export interface RegistrationListInfo {
  readonly mode: 'open' | 'approve';
  readonly registrations: readonly RegistrationInfo[];
  readonly approved: number;
  /** The sites and zones of the fleet, offered when assigning. */
  readonly known?: { readonly sites: readonly string[]; readonly zones: readonly string[] };
}

/** What an admin assigns at approval (absent: as the node announced). */
export interface Assignment {
  readonly site?: string;
  readonly zone?: string;
}

/** "2 nodes waiting for approval" (null when none waits). */
export function waitingText(list: RegistrationListInfo | null): string | null {
  const n = list?.registrations.filter((r) => r.status === 'pending').length ?? 0;
  return n === 0 ? null : `${n} node${n === 1 ? '' : 's'} waiting for approval`;
}

/** An RFC 3339 time for the console's ages, or null. */
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** The registrations while `enabled` (an admin is signed in), kept fresh by the live feed. */
export function useRegistrations(enabled: boolean): {
  list: RegistrationListInfo | null;
  error: string | null;
  reload: () => Promise<void>;
} {
  const [list, setList] = useState<RegistrationListInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reload = async () => {
    try {
      setList(await api.get<{ data: RegistrationListInfo }>('/api/v1/registrations').then((r) => r.data));
      setError(null);
    } catch (err) {
      setError(describeError(err));
    }
  };
  useEffect(() => {
    if (!enabled) return;
    void reload();
    return onRegistrationMessage(() => void reload());
  }, [enabled]);
  return { list, error, reload };
}

export async function decide(site: string, node: string, verb: 'approve' | 'reject', assignment?: Assignment): Promise<RegistrationInfo> {
  const r = await api.post<{ data: RegistrationInfo }>(`/api/v1/registrations/${seg(site)}/${seg(node)}/${verb}`, assignment);
  return r.data;
}

/**
 * The assignment to send for what the admin typed: only the fields that differ from what the node announced
 * (none: a plain approval). Typed values are trimmed; an empty one keeps what the node announced.
 */
export function assignmentOf(r: Pick<RegistrationInfo, 'site' | 'zone'>, site: string, zone: string): Assignment {
  const s = site.trim();
  const z = zone.trim();
  return { ...(s !== '' && s !== r.site ? { site: s } : {}), ...(z !== '' && z !== (r.zone ?? '') ? { zone: z } : {}) };
}

/** The line shown after an approval. */
export function approvalText(d: RegistrationInfo): string {
  const name = `${d.site}/${d.node}`;
  if (d.assignedSite != null && d.assignmentState != null)
    return d.assignmentSent === true
      ? `${name} approved as ${d.assignedSite}/${d.node} in zone ${d.assignedZone}: the assignment was sent; the node restarts under it and its outbox drains to the hub.`
      : `${name} approved as ${d.assignedSite}/${d.node} in zone ${d.assignedZone}; the assignment goes out once the hub is back on the broker.`;
  return `${name} approved${d.rebirthRequested === true ? ': rebirth requested, its outbox drains to the hub.' : '; it re-announces itself once the hub is back on the broker.'}`;
}
