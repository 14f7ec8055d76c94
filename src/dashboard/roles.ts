// What the signed-in role may do: the console hides what the hub would refuse (the hub decides anyway).

import type { MeInfo } from './types.js';

const RANK = { viewer: 0, operator: 1, admin: 2 } as const;

export function hasRole(me: MeInfo | null, role: keyof typeof RANK): boolean {
  return me !== null && (RANK[me.role] ?? -1) >= RANK[role];
}

export function actor(me: MeInfo | null): string {
  return me?.user ?? 'console';
}
