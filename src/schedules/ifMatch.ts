// A schedule's ETag and the If-Match precondition (RFC 9110 §13.1.1) that makes a write conditional.
// Pure: the writes check it against the version they read, or lock.

/** A schedule's ETag: its version, which every change bumps. */
export const etagOf = (version: number) => `"v${version}"`;

/** One element of an If-Match list: optional whitespace, an entity-tag or nothing, then a comma or the end. */
const IF_MATCH_ELEMENT = /^[ \t]*(?:((?:W\/)?"[\x21\x23-\x7e\x80-\xff]*")[ \t]*)?(?:,|$)/;

/**
 * Whether an If-Match value lets a write go ahead on a resource with this (strong) ETag, as RFC 9110
 * §13.1.1 says: `*`, or a list of entity-tags with one equal to it by strong comparison (a weak tag
 * never matches). A value that is not such a list matches nothing.
 */
export function ifMatchAllows(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const tags: string[] = [];
  for (let rest = header; rest.length > 0;) {
    const m = IF_MATCH_ELEMENT.exec(rest);
    if (!m) return false;
    if (m[1]) tags.push(m[1]);
    rest = rest.slice(m[0].length);
  }
  return tags.includes(etag);
}
