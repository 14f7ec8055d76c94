// The leader lease's two statements, shared by the lease (leader-lease.ts) and its renewal thread (lease-renewer.ts):
// renewing the term held, and taking a free or lapsed lease. Times are the database's; the caller keeps its own
// deadline from when it sent the statement.

/** Runs one statement (a pg Pool's or Client's query). */
export type LeaseQuery = <R extends Record<string, unknown>>(sql: string, params: unknown[]) => Promise<{ rows: R[] }>;

/** A lease held, as of the last successful acquire or renew. */
export interface LeaseTerm {
  /** The fencing epoch: 1 for the first holder, +1 at every change of holder. */
  readonly epoch: number;
  /** When it lapses unless renewed, by the database's clock (ms since the epoch). */
  readonly expiresAt: number;
}

interface TermRow extends Record<string, unknown> {
  epoch: number;
  expires_ms: number;
}

const term = (row: TermRow | undefined): LeaseTerm | undefined =>
  row === undefined ? undefined : { epoch: Number(row.epoch), expiresAt: row.expires_ms };

/**
 * Renews the term of `epoch` that `holder` holds, unexpired: expires_at alone changes, so the leader's own fenced
 * writes (FOR KEY SHARE) do not hold it back. Undefined when the term lapsed or was taken.
 */
export async function renewTerm(
  query: LeaseQuery,
  name: string,
  holder: string,
  epoch: number,
  ttlMs: number,
): Promise<LeaseTerm | undefined> {
  const r = await query<TermRow>(
    `UPDATE leases SET expires_at = now() + $4 * interval '1 millisecond'
     WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > now()
     RETURNING epoch, (extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms`,
    [name, holder, epoch, ttlMs],
  );
  return term(r.rows[0]);
}

/** One statement: takes a free or lapsed lease (epoch + 1 when the holder changes), or renews `holder`'s own. */
export async function takeLease(query: LeaseQuery, name: string, holder: string, ttlMs: number): Promise<LeaseTerm | undefined> {
  const r = await query<TermRow>(
    `INSERT INTO leases AS l (name, holder, epoch, expires_at) VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond')
     ON CONFLICT (name) DO UPDATE SET
       holder = excluded.holder,
       -- A lapsed term is never renewed: taken again, even by its old holder, it is a new term.
       epoch = CASE WHEN l.holder = excluded.holder AND l.expires_at > now() THEN l.epoch ELSE l.epoch + 1 END,
       expires_at = excluded.expires_at,
       changed_at = CASE WHEN l.holder = excluded.holder THEN l.changed_at ELSE now() END
     WHERE l.holder = excluded.holder OR l.expires_at <= now()
     RETURNING epoch, (extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms`,
    [name, holder, ttlMs],
  );
  return term(r.rows[0]);
}

/** Renews the term held when there is one, else (or when it is gone) tries to take the lease. */
export async function acquireOrRenew(
  query: LeaseQuery,
  name: string,
  holder: string,
  held: LeaseTerm | undefined,
  ttlMs: number,
): Promise<LeaseTerm | undefined> {
  if (held !== undefined) {
    const renewed = await renewTerm(query, name, holder, held.epoch, ttlMs);
    if (renewed !== undefined) return renewed;
  }
  return takeLease(query, name, holder, ttlMs);
}

/** A monotonic clock shared by every thread of the process (CLOCK_MONOTONIC), ms. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
