/**
 * Redis Cluster hashes only a key's hash tag when it has one: the text between its first
 * `{` and the next `}`, if that is not empty. Keys with one tag share a slot, so a script
 * may touch all of them on any deployment.
 */
export function hashTag(key: string): string | null {
  const open = key.indexOf('{');
  if (open < 0) return null;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : null;
}

/**
 * A script that names no key cannot be routed in a cluster, and one whose keys sit in
 * different slots fails there with CROSSSLOT. Both are refused on every deployment (memory
 * and one Redis too), so the mistake shows in the first test that runs the script rather
 * than in production on a cluster. One key needs no tag: it is a slot by itself.
 */
export function slotError(script: string, keys: readonly string[]): Error | null {
  if (keys.length === 1) return null;
  if (keys.length === 0) return new Error(`store script ${script}: declares no key in KEYS`);
  const tag = hashTag(keys[0]!);
  if (tag === null || keys.some((k) => hashTag(k) !== tag)) return new Error(`store script ${script}: keys must share one hash tag (${keys.join(', ')})`);
  return null;
}
