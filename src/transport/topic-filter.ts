// MQTT topic-filter matching ('+' one level, '#' the rest), as brokers apply it [MQTT-4.7].

/**
 * True when `topic` matches `filter`. '+' matches exactly one level (possibly empty), '#' as the
 * last level matches the parent and everything below. Filters starting with a wildcard do not match
 * topics that start with '$' [MQTT-4.7.2-1].
 */
export function matchesFilter(filter: string, topic: string): boolean {
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

/** True when `filter` is a well-formed subscription filter. */
export function isValidFilter(filter: string): boolean {
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
