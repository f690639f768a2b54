import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canTransition,
  classify,
  JOB_STATUSES,
  TERMINAL,
  TRANSITIONS,
  type JobStatus,
} from '../../src/jobs/stateMachine.ts';

describe('job state machine', () => {
  it('terminal states never change, except failed → scheduled (re-drive)', () => {
    for (const from of TERMINAL) {
      for (const to of JOB_STATUSES) {
        expect(canTransition(from, to)).toBe(from === 'failed' && to === 'scheduled');
      }
    }
  });

  it('property: any walk of allowed transitions that reaches succeeded or cancelled stays there', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...JOB_STATUSES), { maxLength: 40 }), (proposals) => {
        let s: JobStatus = 'scheduled';
        for (const next of proposals) {
          const was = s;
          if (canTransition(s, next)) s = next;
          if (was === 'succeeded' || was === 'cancelled') expect(s).toBe(was);
        }
        // every state reached is a known one and running is only entered from a claimable state
        return JOB_STATUSES.includes(s);
      }),
    );
  });

  it('only scheduled and retrying jobs can be claimed (→ running)', () => {
    const into = JOB_STATUSES.filter((s) => TRANSITIONS[s].includes('running'));
    expect(into.sort()).toEqual(['retrying', 'scheduled']);
  });
});

describe('attempt classification', () => {
  it.each([
    [200, 'succeeded', false],
    [204, 'succeeded', false],
    [301, 'failed', false],
    [400, 'failed', false],
    [404, 'failed', false],
    [408, 'failed', true],
    [425, 'failed', true],
    [429, 'failed', true],
    [500, 'failed', true],
    [503, 'failed', true],
  ])('HTTP %i → %s (retryable: %s)', (statusCode, outcome, retryable) => {
    expect(classify({ kind: 'response', statusCode })).toEqual({ outcome, retryable });
  });
  it('timeouts and network errors retry; blocked targets never do', () => {
    expect(classify({ kind: 'timeout' })).toEqual({ outcome: 'timeout', retryable: true });
    expect(classify({ kind: 'network_error' })).toEqual({ outcome: 'network_error', retryable: true });
    expect(classify({ kind: 'blocked' })).toEqual({ outcome: 'blocked', retryable: false });
    expect(classify({ kind: 'invalid_response' })).toEqual({ outcome: 'failed', retryable: true });
  });
});
