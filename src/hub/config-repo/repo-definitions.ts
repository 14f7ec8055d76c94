// What the hub takes from the configuration repository besides the nodes' configs: its sites (name,
// position, address) and its consensus zones, merged with hub.yaml's (hub.yaml's entry wins for an id both
// define, the repository adds the rest) and handed to the site monitor and the zone monitor at each
// accepted revision. A refused revision never comes here, so the last good revision's stay. They are kept
// in <dataDir>/config-repo-definitions.json: a hub restarted while the newest revision is refused still
// watches them. docs/config-as-code.md "What the hub takes from the repository".

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, type Logger } from '../../kit/index.js';
import { writeFileDurably } from '../../platform/index.js';
import { canonicalJson } from '../../protocol/index.js';
import type { SourcedSiteConfig } from '../health/site-monitor.js';
import type { HubStorage } from '../storage/storage.js';
import type { HubZone } from '../zones/hub-zone-config.js';
import type { ZoneSetChange } from '../zones/zone-monitor.js';
import type { RepoSiteConfig } from './config-repo-port.js';

/** Where the last good revision's sites and zones are kept, in the hub's data dir. */
export const REPO_DEFINITIONS_FILE = 'config-repo-definitions.json';

/** A revision's sites and zones, as the renderer gives them (absent: none). */
export interface RepoSitesAndZones {
  readonly sites?: readonly RepoSiteConfig[];
  readonly zones?: readonly HubZone[];
}

export interface RepoDefinitionsOptions {
  /** hub.yaml `sites:`: they stay, and win for the same id. */
  readonly hubSites: readonly SourcedSiteConfig[];
  /** hub.yaml `zones:`: likewise. */
  readonly hubZones: readonly HubZone[];
  readonly sites: { setSites(sites: readonly SourcedSiteConfig[]): void };
  readonly zones: { setZones(zones: readonly HubZone[], storage?: Pick<HubStorage, 'queryEvents'>): Promise<ZoneSetChange> };
  /** The stored events a zone added at run time is rebuilt from (absent: it starts empty). */
  readonly storage?: Pick<HubStorage, 'queryEvents'>;
  readonly logger: Logger;
  /** The hub's data dir, where the last good revision's definitions are kept (absent: not kept). */
  readonly dataDir?: string;
}

interface Kept {
  readonly revision: string;
  readonly sites: readonly RepoSiteConfig[];
  readonly zones: readonly HubZone[];
}

/** What a hub.yaml site and a repository site are compared on: what the repository can say. */
function siteFacts(s: RepoSiteConfig): string {
  return canonicalJson([s.name ?? null, s.lat ?? null, s.lon ?? null, s.address ?? null]);
}

/** A zone compared without where it came from; its site only when both give one (null: any, or unknown). */
function zoneFacts(z: HubZone, other: HubZone): string {
  const { site, source: _source, ...zone } = z;
  return canonicalJson([zone, other.site === null ? null : site]);
}

export class RepoDefinitions {
  readonly #o: RepoDefinitionsOptions;
  readonly #logger: Logger;
  readonly #path: string | undefined;
  #kept: Kept | null = null;
  /** `site:<id>` / `zone:<id>` -> the repository's definition last warned about (warned once while it stays). */
  readonly #warned = new Map<string, string>();

  constructor(options: RepoDefinitionsOptions) {
    this.#o = options;
    this.#logger = options.logger.child({ component: 'config-repo' });
    this.#path = options.dataDir === undefined ? undefined : join(options.dataDir, REPO_DEFINITIONS_FILE);
  }

  /** The revision whose sites and zones the hub uses, and what it gave; null before the first. */
  current(): Kept | null {
    return this.#kept;
  }

  /** Restores the last good revision's sites and zones (kept across restarts) and hands them to the monitors. */
  async start(): Promise<void> {
    if (this.#path === undefined || !existsSync(this.#path)) return;
    let kept: Kept;
    try {
      kept = JSON.parse(readFileSync(this.#path, 'utf8')) as Kept;
      if (typeof kept.revision !== 'string' || !Array.isArray(kept.sites) || !Array.isArray(kept.zones))
        throw new Error('unexpected shape');
    } catch (err) {
      this.#logger.warn(
        { err: describeError(err), path: this.#path },
        "the repository's sites and zones kept from the last run are unreadable; they come with the next revision read",
      );
      return;
    }
    this.#kept = kept;
    await this.#apply();
  }

  /**
   * A revision the reconciler accepted: its sites and zones replace the previous revision's (beside
   * hub.yaml's), and are kept for the next start.
   */
  async accept(revision: string, rendered: RepoSitesAndZones): Promise<void> {
    this.#kept = { revision, sites: rendered.sites ?? [], zones: rendered.zones ?? [] };
    if (this.#path !== undefined) {
      try {
        writeFileDurably(this.#path, `${JSON.stringify(this.#kept)}\n`);
      } catch (err) {
        this.#logger.warn({ err: describeError(err), path: this.#path }, "the repository's sites and zones not kept for the next start");
      }
    }
    await this.#apply();
  }

  async #apply(): Promise<void> {
    const kept = this.#kept;
    if (kept === null) return;
    const short = kept.revision.slice(0, 12);
    const hubSites = new Map(this.#o.hubSites.map((s) => [s.id, s]));
    const hubZones = new Map(this.#o.hubZones.map((z) => [z.id, z]));
    const seen = new Set<string>();
    for (const s of kept.sites) {
      const mine = hubSites.get(s.id);
      if (mine !== undefined) this.#compare(`site:${s.id}`, `site ${s.id}`, siteFacts(mine), siteFacts(s), short, seen);
    }
    for (const z of kept.zones) {
      const mine = hubZones.get(z.id);
      if (mine !== undefined) this.#compare(`zone:${z.id}`, `zone ${z.id}`, zoneFacts(mine, z), zoneFacts(z, mine), short, seen);
    }
    for (const key of [...this.#warned.keys()]) if (!seen.has(key)) this.#warned.delete(key);
    this.#o.sites.setSites([
      ...this.#o.hubSites.map((s) => ({ ...s, source: 'hub.yaml' as const })),
      ...kept.sites.filter((s) => !hubSites.has(s.id)).map((s) => ({ ...s, zones: {}, source: 'repository' as const })),
    ]);
    const change = await this.#o.zones.setZones(
      [
        ...this.#o.hubZones.map((z) => ({ ...z, source: 'hub.yaml' as const })),
        ...kept.zones.filter((z) => !hubZones.has(z.id)).map((z) => ({ ...z, source: 'repository' as const })),
      ],
      this.#o.storage,
    );
    this.#logger.info(
      {
        revision: short,
        sites: kept.sites.filter((s) => !hubSites.has(s.id)).map((s) => s.id),
        zones: kept.zones.filter((z) => !hubZones.has(z.id)).map((z) => z.id),
        zonesAdded: change.added,
        zonesRemoved: change.removed,
      },
      "the repository's sites and zones in use",
    );
  }

  /** Warns once when the repository defines an id of hub.yaml differently (again when its definition changes). */
  #compare(key: string, what: string, hubYaml: string, repository: string, revision: string, seen: Set<string>): void {
    if (hubYaml === repository) return;
    seen.add(key);
    if (this.#warned.get(key) === repository) return;
    this.#warned.set(key, repository);
    this.#logger.warn({ revision }, `${what}: hub.yaml's definition is used, the repository's revision ${revision} differs`);
  }
}
