// The registration gate (docs/registration.md): which nodes the hub admits. In `open` mode every node; in
// `approve` mode a node an admin approved, one the configuration repository defines, or one the hub knew
// before approve mode was switched on (grandfathered). Any other node that speaks becomes a pending
// registration: its frames are counted and dropped before the fleet state, storage and acknowledgements,
// so its durable outbox keeps everything until it is approved. An approval may assign the node another site
// and zone (docs/registration.md "Assigning a site and a zone"): the gate then admits it under the assigned
// key and ignores its old one, and keeps where the assignment's retained message is [FM-ASSIGN-1].

import { Counter, Gauge, type Registry } from 'prom-client';
import { type Clock, FieldmeshError, type Logger } from '../../kit/index.js';
import type { WireFrame } from '../../protocol/index.js';
import {
  type AssignmentState,
  blankRegistration,
  type RegistrationRecord,
  type RegistrationStatus,
  type RegistrationStore,
} from './registration-store.js';

export type RegistrationMode = 'open' | 'approve';

/** One registration as the API, the live feed and the CLI show it. */
export type RegistrationView = Readonly<RegistrationRecord>;

export interface RegistrationList {
  readonly mode: RegistrationMode;
  /** Pending first (newest first), then rejected. */
  readonly registrations: readonly RegistrationView[];
  /** Nodes approved by an admin or grandfathered (those the repository defines are not counted; a moved node once). */
  readonly approved: number;
}

/** What an admin assigns at approval; an absent field keeps what the node announced. */
export interface RegistrationAssignment {
  readonly site?: string;
  readonly zone?: string;
}

export interface RegistrationGateOptions {
  readonly mode: RegistrationMode;
  readonly store: RegistrationStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry?: Registry;
  /** True when the configuration repository's current revision defines the node (absent: no repository). */
  readonly repoDefines?: (site: string, node: string) => boolean;
  /** A registration appeared, changed status, or was decided (the live feed's `registration` message). */
  readonly onChange?: (view: RegistrationView) => void;
}

const key = (site: string, node: string) => `${site}/${node}`;

/** Approved under another site: its frames under this key are not admitted any more. */
const isMoved = (r: RegistrationRecord) => r.status === 'approved' && r.assignedSite !== null && r.assignedSite !== r.site;

/** Whether `theirs` (the store's) holds a decision `mine` lacks: a later one, or the same one's later assignment step. */
function decidedLater(theirs: RegistrationRecord, mine: RegistrationRecord): boolean {
  if (theirs.decidedAt === null) return false;
  if (mine.decidedAt === null || theirs.decidedAt > mine.decidedAt) return true;
  return (
    theirs.decidedAt === mine.decidedAt &&
    (theirs.status !== mine.status || theirs.assignedSite !== mine.assignedSite || theirs.assignmentState !== mine.assignmentState)
  );
}

export class RegistrationGate {
  readonly #o: RegistrationGateOptions;
  readonly #records = new Map<string, RegistrationRecord>();
  /** Records whose lastSeen / framesIgnored changed since the last flush. */
  readonly #dirty = new Set<string>();
  /** Nodes whose ignored frames were logged by this process (once each). */
  readonly #logged = new Set<string>();
  readonly #ignored: Counter<'status'> | undefined;
  /** Assigned key → the key the node announced, while the hub holds or owes a retained assignment for it. */
  readonly #assignedFrom = new Map<string, string>();

  constructor(options: RegistrationGateOptions) {
    this.#o = options;
    if (options.registry !== undefined) {
      const registers = [options.registry];
      this.#ignored = new Counter({
        name: 'fieldmesh_registration_frames_ignored_total',
        help: 'Frames from nodes that are not approved (registration.mode approve), dropped unstored and unacknowledged, by registration status (moved: a node assigned another site, under its old key).',
        labelNames: ['status'] as const,
        registers,
      });
      this.#ignored.inc({ status: 'pending' }, 0);
      this.#ignored.inc({ status: 'rejected' }, 0);
      this.#ignored.inc({ status: 'moved' }, 0);
      const records = this.#records;
      new Gauge({
        name: 'fieldmesh_registrations',
        help: 'Nodes waiting for approval (pending) and refused (rejected) at the hub.',
        labelNames: ['status'] as const,
        registers,
        collect() {
          const counts = { pending: 0, rejected: 0 };
          for (const r of records.values()) if (r.status !== 'approved') counts[r.status]++;
          this.set({ status: 'pending' }, counts.pending);
          this.set({ status: 'rejected' }, counts.rejected);
        },
      });
    }
  }

  get mode(): RegistrationMode {
    return this.#o.mode;
  }

  /**
   * Loads the kept registrations. When the hub starts in `approve` mode and its last start was not (or the
   * database is new), every node it already knows (`known`, its node registry) is grandfathered: approved
   * with origin `grandfathered`.
   */
  start(known: readonly { readonly site: string; readonly node: string }[]): void {
    for (const r of this.#o.store.list()) {
      this.#records.set(key(r.site, r.node), r);
      if (r.assignedSite !== null && r.assignmentState !== null) this.#assignedFrom.set(key(r.assignedSite, r.node), key(r.site, r.node));
    }
    const last = this.#o.store.lastMode();
    if (this.#o.mode === 'approve' && last !== 'approve') {
      const now = this.#o.clock.now();
      let n = 0;
      for (const k of known) {
        if (this.#records.has(key(k.site, k.node))) continue;
        this.#put({ ...blankRegistration(k.site, k.node), status: 'approved', origin: 'grandfathered', decidedBy: 'hub', decidedAt: now });
        n++;
      }
      this.#o.logger.info(
        { grandfathered: n },
        `registration: approve mode switched on; ${n} known node${n === 1 ? '' : 's'} grandfathered`,
      );
    }
    if (last !== this.#o.mode) this.#o.store.setLastMode(this.#o.mode);
  }

  /** Whether the node is admitted now (always in `open` mode). */
  isApproved(site: string, node: string): boolean {
    if (this.#o.mode === 'open') return true;
    const r = this.#records.get(key(site, node));
    if (r !== undefined && isMoved(r)) return false;
    if (r?.status === 'approved') return true;
    // An admin's reject wins over the repository.
    if (r?.status === 'rejected') return false;
    return this.#o.repoDefines?.(site, node) ?? false;
  }

  /**
   * Decides one frame from a node on `channel` (`frame`: decoded, when it was). True: handle it as usual.
   * False: the node is not approved; the frame was counted and its facts (a birth's) recorded.
   */
  admit(site: string, node: string, frame?: WireFrame): boolean {
    if (this.isApproved(site, node)) return true;
    const k = key(site, node);
    const now = this.#o.clock.now();
    let r = this.#records.get(k);
    const created = r === undefined;
    if (r === undefined) {
      r = { ...blankRegistration(site, node), firstSeen: now };
      this.#records.set(k, r);
    }
    r.firstSeen ??= now;
    r.lastSeen = now;
    r.framesIgnored++;
    const moved = isMoved(r);
    this.#ignored?.inc({ status: moved ? 'moved' : r.status });
    if (frame?.type === 'birth') {
      r.births++;
      r.zone = frame.zone;
      r.agentVersion = frame.agentVersion;
      r.bootTime = frame.bootTime;
      r.configVersion = frame.configVersion;
    }
    if (created || frame?.type === 'birth') {
      this.#o.store.put(r);
      this.#dirty.delete(k);
      this.#o.onChange?.({ ...r });
    } else this.#dirty.add(k);
    if (!this.#logged.has(k)) {
      this.#logged.add(k);
      if (moved)
        this.#o.logger.warn(
          { site, node, assignedSite: r.assignedSite, assignedZone: r.assignedZone },
          `node ${k} was assigned to ${key(r.assignedSite as string, node)} (zone ${r.assignedZone}) by ${r.decidedBy}: its frames under ${k} are ignored; it is admitted once it runs under the assignment`,
        );
      else if (r.status === 'rejected')
        this.#o.logger.warn({ site, node }, `node ${k} was rejected: its frames are ignored (approve it to admit it)`);
      else
        this.#o.logger.warn(
          { site, node, zone: r.zone, agentVersion: r.agentVersion },
          `node ${k} is not approved: pending registration, its frames are ignored until an admin approves it (fieldmesh hub nodes approve ${k})`,
        );
    }
    return false;
  }

  /** Pending and rejected registrations, with the count of approved ones. */
  list(): RegistrationList {
    const open = [...this.#records.values()].filter((r) => r.status !== 'approved' && !this.#repoApproved(r));
    const rank = (r: RegistrationRecord) => (r.status === 'pending' ? 0 : 1);
    open.sort((a, b) => rank(a) - rank(b) || (b.lastSeen ?? 0) - (a.lastSeen ?? 0) || (key(a.site, a.node) < key(b.site, b.node) ? -1 : 1));
    const approved = [...this.#records.values()].filter((r) => r.status === 'approved' && !isMoved(r)).length;
    return { mode: this.#o.mode, registrations: open.map((r) => ({ ...r })), approved };
  }

  /** One node's registration (any status), undefined when the gate never heard of it. */
  get(site: string, node: string): RegistrationView | undefined {
    const r = this.#records.get(key(site, node));
    return r === undefined ? undefined : { ...r };
  }

  /**
   * Approves a node (pending, rejected, or not heard of yet: pre-approval), kept across restarts. With an
   * `assignment` that differs from what the node announced (its last birth's zone), the node is assigned that
   * site and zone: the view's `assignmentState` is `publish` (the caller publishes it, [FM-ASSIGN-1]), and with
   * another site the assigned key is approved too while this one stops being admitted. An assignment equal to
   * what the node announced is a plain approval (and withdraws an earlier assignment).
   */
  approve(site: string, node: string, by: string, assignment: RegistrationAssignment = {}): RegistrationView {
    this.#checkMode(site, node);
    const k = key(site, node);
    const announced = this.#records.get(k)?.zone ?? null;
    const toSite = assignment.site ?? site;
    const toZone = assignment.zone ?? announced;
    const assigns = toSite !== site || toZone !== announced;
    if (assigns && toZone === null)
      throw new FieldmeshError(
        'FM_REQUEST_INVALID',
        `zone: ${k} has not announced itself yet, so the hub does not know its zone; give the zone to assign with the site`,
      );
    const target = key(toSite, node);
    const other = toSite === site ? undefined : this.#records.get(target);
    if (other !== undefined && other.status !== 'approved')
      throw new FieldmeshError(
        'FM_REQUEST_INVALID',
        `site: ${target} is a registration of its own (${other.status}); decide it first, or assign ${k} another site`,
      );
    const previous = this.#records.get(k)?.assignedSite;
    const view = this.#decide(site, node, 'approved', by, (r) => {
      if (assigns) {
        r.assignedSite = toSite;
        r.assignedZone = toZone;
        r.assignmentState = 'publish';
      } else {
        // A plain approval withdraws an earlier assignment: its retained message, if any, is cleared.
        r.assignmentState = r.assignmentState === null ? null : 'clear';
        r.assignedSite = null;
        r.assignedZone = null;
      }
    });
    if (previous !== undefined && previous !== null) this.#assignedFrom.delete(key(previous, node));
    if (view.assignedSite !== null) this.#assignedFrom.set(target, k);
    if (toSite !== site) {
      this.#decide(toSite, node, 'approved', by);
      this.#o.logger.info(
        { site, node, assignedSite: toSite, assignedZone: toZone, by },
        `registration: node ${k} assigned site ${toSite} zone ${toZone}: admitted as ${target}, no longer as ${k}`,
      );
    } else if (assigns)
      this.#o.logger.info(
        { site, node, assignedZone: toZone, by },
        `registration: node ${k} assigned zone ${toZone} (it announced ${announced})`,
      );
    return view;
  }

  /** Nodes whose assignment is to be published, or whose retained assignment is to be cleared. */
  assignmentsOwed(): RegistrationView[] {
    return [...this.#records.values()]
      .filter((r) => r.assignmentState === 'publish' || r.assignmentState === 'clear')
      .map((r) => ({ ...r }));
  }

  /** Records where a node's retained assignment is now (`null`: none). */
  setAssignmentState(site: string, node: string, state: AssignmentState | null): void {
    const r = this.#records.get(key(site, node));
    if (r === undefined || r.assignmentState === state) return;
    r.assignmentState = state;
    if (state === null) for (const [to, from] of this.#assignedFrom) if (from === key(site, node)) this.#assignedFrom.delete(to);
    this.#put(r);
  }

  /**
   * An admitted birth under `site`/`node` in `zone`: when that is the identity a node was assigned, its retained
   * assignment is owed a clearing ([FM-ASSIGN-5]); the registration whose assignment it is is returned.
   */
  announced(site: string, node: string, zone: string): RegistrationView | undefined {
    const from = this.#assignedFrom.get(key(site, node));
    const r = from === undefined ? undefined : this.#records.get(from);
    if (r === undefined || r.assignmentState === null) return undefined;
    // Owed already (its clearing did not go out): again.
    if (r.assignmentState === 'clear') return { ...r };
    if (r.assignedSite !== site || r.assignedZone !== zone) return undefined;
    r.assignmentState = 'clear';
    this.#put(r);
    return { ...r };
  }

  /** Rejects a node: its frames stay ignored (an approved node loses its approval) until it is approved. */
  reject(site: string, node: string, by: string): RegistrationView {
    return this.#decide(site, node, 'rejected', by);
  }

  /**
   * Takes in the decisions another hub process made (a scale-out hub's api processes share the store: call after the
   * store read the rows again): a node decided there, or decided again later than here, gets that decision and
   * assignment; one heard of there only is added. This process's counts and last-seen times stay its own. Returns how
   * many changed.
   */
  adopt(): number {
    let changed = 0;
    for (const theirs of this.#o.store.list()) {
      const k = key(theirs.site, theirs.node);
      const mine = this.#records.get(k);
      if (mine !== undefined && !decidedLater(theirs, mine)) continue;
      const r = mine ?? theirs;
      if (mine !== undefined) {
        mine.status = theirs.status;
        mine.decidedBy = theirs.decidedBy;
        mine.decidedAt = theirs.decidedAt;
        mine.origin = theirs.origin;
        mine.assignedSite = theirs.assignedSite;
        mine.assignedZone = theirs.assignedZone;
        mine.assignmentState = theirs.assignmentState;
      }
      this.#records.set(k, r);
      for (const [to, from] of this.#assignedFrom) if (from === k) this.#assignedFrom.delete(to);
      if (r.assignedSite !== null && r.assignmentState !== null) this.#assignedFrom.set(key(r.assignedSite, r.node), k);
      this.#logged.delete(k);
      changed++;
      this.#o.onChange?.({ ...r });
    }
    return changed;
  }

  /** Writes the last-seen times and counts that changed since the last flush. */
  flush(): void {
    for (const k of this.#dirty) {
      const r = this.#records.get(k);
      if (r !== undefined) this.#o.store.put(r);
    }
    this.#dirty.clear();
  }

  #checkMode(site: string, node: string): void {
    if (this.#o.mode === 'open')
      throw new FieldmeshError(
        'FM_REQUEST_INVALID',
        `registration.mode is open: the hub admits every node, so ${key(site, node)} needs no decision (set registration.mode: approve in hub.yaml)`,
      );
  }

  #decide(
    site: string,
    node: string,
    status: Exclude<RegistrationStatus, 'pending'>,
    by: string,
    change?: (r: RegistrationRecord) => void,
  ): RegistrationView {
    this.#checkMode(site, node);
    const k = key(site, node);
    const r = this.#records.get(k) ?? blankRegistration(site, node);
    r.status = status;
    r.decidedBy = by;
    r.decidedAt = this.#o.clock.now();
    r.origin = status === 'approved' ? 'admin' : null;
    change?.(r);
    this.#put(r);
    this.#logged.delete(k);
    this.#o.logger.info({ site, node, by }, `registration: node ${k} ${status} by ${by}`);
    const view = { ...r };
    this.#o.onChange?.(view);
    return view;
  }

  #repoApproved(r: RegistrationRecord): boolean {
    return r.status === 'pending' && (this.#o.repoDefines?.(r.site, r.node) ?? false);
  }

  #put(r: RegistrationRecord): void {
    const k = key(r.site, r.node);
    this.#records.set(k, r);
    this.#dirty.delete(k);
    this.#o.store.put(r);
  }
}
