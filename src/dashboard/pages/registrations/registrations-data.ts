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
  readonly rebirthRequested?: boolean;
}

export interface RegistrationListInfo {
  readonly mode: 'open' | 'approve';
  readonly registrations: readonly RegistrationInfo[];
  readonly approved: number;
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

export async function decide(site: string, node: string, verb: 'approve' | 'reject'): Promise<RegistrationInfo> {
  const r = await api.post<{ data: RegistrationInfo }>(`/api/v1/registrations/${seg(site)}/${seg(node)}/${verb}`);
  return r.data;
}
