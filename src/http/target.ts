/** A request target without its query string or fragment: queries (and a fragment, when a client sends one) can carry user codes. */
export function pathOf(target: string): string {
  const end = target.search(/[?#]/);
  return end === -1 ? target : target.slice(0, end);
}
