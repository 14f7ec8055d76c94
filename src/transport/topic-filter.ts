// MQTT topic-filter matching ('+' one level, '#' the rest), as brokers apply it [MQTT-4.7].

/**
 * True when `topic` matches `filter`. '+' matches exactly one level (possibly empty), '#' as the
 * last level matches the parent and everything below. Filters starting with a wildcard do not match
 * topics that start with '$' [MQTT-4.7.2-1].
 */
export function matchesFilter(filter: string, topic: string): boolean {
  // A shared subscription's messages are its inner filter's (each to one member of the group).
  filter = sharedFilter(filter)?.filter ?? filter;
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

const SHARE_PREFIX = '$share/';

/**
 * The parts of an MQTT 5 shared subscription `$share/<group>/<filter>` [MQTT-4.8.2]: the broker hands each message of
 * `filter` to one subscriber of `group` (so several processes split one stream of messages); undefined for a plain
 * filter. Mosquitto supports them (over MQTT 5 and 3.1.1); the embedded Aedes broker does not.
 */
export function sharedFilter(filter: string): { readonly group: string; readonly filter: string } | undefined {
  if (!filter.startsWith(SHARE_PREFIX)) return undefined;
  const slash = filter.indexOf('/', SHARE_PREFIX.length);
  if (slash < 0) return undefined;
  return { group: filter.slice(SHARE_PREFIX.length, slash), filter: filter.slice(slash + 1) };
}

/** True when `filter` is a well-formed subscription filter (a shared one's group is one level without wildcards). */
export function isValidFilter(filter: string): boolean {
  if (filter.startsWith(SHARE_PREFIX)) {
    const shared = sharedFilter(filter);
    return shared !== undefined && /^[^+#]+$/.test(shared.group) && isValidFilter(shared.filter);
  }
  if (filter === '') return false;
  const levels = filter.split('/');
  return levels.every((level, i) => {
    if (level === '#') return i === levels.length - 1;
    if (level === '+') return true;
    return !level.includes('+') && !level.includes('#');
  });
}

/** True when `topic` is a well-formed publish topic (non-empty, no wildcards). */
export function isValidTopic(topic: string): boolean {
  return topic !== '' && !topic.includes('+') && !topic.includes('#');
}
