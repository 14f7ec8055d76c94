// hub.yaml's `sites` (names, coordinates, addresses, zone names) and `console` (title, site-plan map,
// health thresholds): the facts the operator console shows that no node reports.

import { z } from 'zod';
import { durationMs, isValidId } from '../../kit/index.js';

const latitude = z
  .number({ error: 'expected a latitude in degrees, from -90 to 90' })
  .min(-90, 'expected a latitude in degrees, from -90 to 90')
  .max(90, 'expected a latitude in degrees, from -90 to 90');
const longitude = z
  .number({ error: 'expected a longitude in degrees, from -180 to 180' })
  .min(-180, 'expected a longitude in degrees, from -180 to 180')
  .max(180, 'expected a longitude in degrees, from -180 to 180');
const id = (what: string) =>
  z.string().refine(isValidId, `expected a ${what} id: lowercase letters, digits, '-' and '_', starting with a letter or digit`);

/** One site as hub.yaml describes it. Sites the fleet reports but hub.yaml omits still show, without coordinates. */
export const siteConfigSchema = z
  .strictObject({
    id: id('site'),
    /** Shown instead of the id. */
    name: z.string().min(1).optional(),
    /** WGS 84 degrees; both or neither. */
    lat: latitude.optional(),
    lon: longitude.optional(),
    address: z.string().min(1).optional(),
    /** Zone id -> display name. */
    zones: z.record(id('zone'), z.string().min(1)).default({}),
  })
  .superRefine((s, ctx) => {
    if ((s.lat === undefined) !== (s.lon === undefined)) {
      ctx.addIssue({ code: 'custom', path: [s.lat === undefined ? 'lat' : 'lon'], message: 'give both lat and lon, or neither' });
    }
  });

export const sitesConfigSchema = z
  .array(siteConfigSchema)
  .default([])
  .superRefine((sites, ctx) => {
    const seen = new Set<string>();
    sites.forEach((s, i) => {
      if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `site "${s.id}" is listed twice` });
      seen.add(s.id);
    });
  });

export const consoleConfigSchema = z
  .strictObject({
    /** The console's title (browser tab, header). */
    title: z.string().min(1).default('fieldmesh'),
    map: z
      .strictObject({
        /** An operator-supplied site plan (png, jpg, svg), relative to the working directory; served by the hub. */
        image: z
          .string()
          .regex(/\.(png|jpe?g|svg)$/i, 'expected a .png, .jpg, .jpeg or .svg file')
          .optional(),
        /** Where the image sits, degrees. */
        bounds: z
          .strictObject({ north: latitude, south: latitude, east: longitude, west: longitude })
          .superRefine((b, ctx) => {
            if (b.north <= b.south) ctx.addIssue({ code: 'custom', path: ['north'], message: 'north must be greater than south' });
            if (b.east <= b.west) ctx.addIssue({ code: 'custom', path: ['east'], message: 'east must be greater than west' });
          })
          .optional(),
      })
      .prefault({} as never),
    /** Thresholds of the site health rules (docs/console.md "Health: green, warn, error"). */
    health: z
      .strictObject({
        /** A node's oldest unsent sample older than this makes its site warn... */
        backlogWarn: durationMs('10m'),
        /** ...and older than this, error. */
        backlogError: durationMs('1h'),
        /** A site none of whose nodes was heard for longer than this warns: its data is not fresh. */
        freshness: durationMs('5m'),
      })
      .superRefine((h, ctx) => {
        if (h.backlogError < h.backlogWarn)
          ctx.addIssue({ code: 'custom', path: ['backlogError'], message: 'must not be shorter than backlogWarn' });
      })
      .prefault({} as never),
  })
  .prefault({} as never);

export type SiteConfig = z.output<typeof siteConfigSchema>;
export type ConsoleConfig = z.output<typeof consoleConfigSchema>;
