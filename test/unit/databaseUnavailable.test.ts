// isDatabaseUnavailable decides 503 + Retry-After (never 500) and whether withTransaction may reuse a
// connection: every state of a failover must count, and errors about the request's data must not.
import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/errors.ts';

describe('isDatabaseUnavailable', () => {
  it.each([
    ['a write on a read-only node (standby, demoted primary)', { code: '25006' }],
    ['admin shutdown (a demotion restarts the old primary)', { code: '57P01' }],
    ['crash shutdown', { code: '57P02' }],
    ['cannot connect now (starting up, in recovery)', { code: '57P03' }],
    ['a connection failure class 08', { code: '08006' }],
    ['connection refused', { code: 'ECONNREFUSED' }],
  ])('counts %s', (_what, err) => {
    expect(isDatabaseUnavailable(err)).toBe(true);
  });

  it.each([
    'the database system is in recovery mode',
    'the database system is starting up',
    'the database system is shutting down',
    'the database system is not yet accepting connections',
    'cannot execute INSERT in a read-only transaction',
    'cannot execute LISTEN during recovery',
  ])('counts "%s" without a code (an error re-wrapped by a library)', (message) => {
    expect(isDatabaseUnavailable(new Error(message))).toBe(true);
  });

  it.each([
    ['a unique violation', { code: '23505', message: 'duplicate key value' }],
    ['a check violation', { code: '23514', message: 'new row violates check constraint' }],
    ['a serialization failure (retried, not unavailable)', { code: '40001', message: 'could not serialize' }],
    ['a syntax error', { code: '42601', message: 'syntax error at or near' }],
  ])('does not count %s', (_what, err) => {
    expect(isDatabaseUnavailable(err)).toBe(false);
  });
});
