// If-Match as RFC 9110 §13.1.1 reads it: `*`, or a list of entity-tags compared strongly.
import { describe, expect, it } from 'vitest';
import { ifMatchAllows } from '../../src/schedules/ifMatch.ts';

describe('ifMatchAllows', () => {
  it.each([
    ['"v3"', true],
    ['*', true],
    [' * ', true],
    ['"v1", "v3"', true],
    ['"v1","v3"', true],
    ['"v3" , "v1"', true],
    [', "v3",', true], // empty list elements are allowed
    ['"a,b", "v3"', true], // a comma inside a tag is part of it
    ['"v1"', false],
    ['W/"v3"', false], // weak tags never match (strong comparison)
    ['"v1", W/"v3"', false],
    ['v3', false],
    ['"v3', false],
    ['"v3" "v1"', false],
    ['"v3", *', false], // * stands alone
    ['', false],
  ])('If-Match: %s → %s for "v3"', (header, allowed) => {
    expect(ifMatchAllows(header, '"v3"')).toBe(allowed);
  });
});
