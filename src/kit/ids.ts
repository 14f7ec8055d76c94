// Identifiers: the shape of site, zone and node ids, and random event ids.

/** Site, zone and node ids: lowercase letters, digits, '-' and '_', starting with a letter or digit. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** A short random id (URL-safe base36), for events and requests. */
export function createId(random = Math.random): string {
  let out = '';
  for (let i = 0; i < 12; i++) out += Math.floor(random() * 36).toString(36);
  return out;
}
