import { describe, expect, it } from 'vitest';
import { bisectOnDeterministicError } from '../../src/lib/bisect.ts';

const checkViolation = Object.assign(new Error('violates check'), { code: '23514' });
const connectionLost = Object.assign(new Error('Connection terminated'), { code: 'ECONNRESET' });
const deadlock = Object.assign(new Error('deadlock detected'), { code: '40P01' });

/** A write of numbers that refuses any batch holding one of `bad` (all or nothing, as a statement). */
function fakeWrite(bad: number[], fail: (batch: number[]) => Error = () => checkViolation) {
  const calls: number[][] = [];
  const written: number[] = [];
  const write = (batch: number[]) => {
    calls.push(batch);
    if (batch.some((n) => bad.includes(n))) return Promise.reject(fail(batch));
    written.push(...batch);
    return Promise.resolve(batch.map((n) => `r${n}`));
  };
  return { calls, written, write };
}
const ok = (value: string) => ({ status: 'fulfilled', value });
const no = (reason: unknown) => ({ status: 'rejected', reason });

describe('bisectOnDeterministicError', () => {
  it('writes a batch the database takes in one call, one result per item in order', async () => {
    const w = fakeWrite([]);
    expect(await bisectOnDeterministicError([1, 2, 3], w.write)).toEqual([ok('r1'), ok('r2'), ok('r3')]);
    expect(w.calls).toEqual([[1, 2, 3]]);
  });

  it('halves around a refused row until it is alone: only it fails, with its own error', async () => {
    const w = fakeWrite([6]);
    const results = await bisectOnDeterministicError([1, 2, 3, 4, 5, 6, 7, 8], w.write);
    expect(results).toEqual([
      ...[1, 2, 3, 4, 5].map((n) => ok(`r${n}`)),
      no(checkViolation),
      ok('r7'),
      ok('r8'),
    ]);
    // One statement at a time, halves in order: about 2·log2(n) of them.
    expect(w.calls).toEqual([[1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4], [5, 6, 7, 8], [5, 6], [5], [6], [7, 8]]);
    expect(w.written).toEqual([1, 2, 3, 4, 5, 7, 8]);
  });

  it('an odd batch splits with the smaller half first; several refused rows each fail alone', async () => {
    const w = fakeWrite([1, 5]);
    const results = await bisectOnDeterministicError([1, 2, 3, 4, 5], w.write);
    expect(results.map((r) => r.status)).toEqual([
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
    ]);
    expect(w.calls[1]).toEqual([1, 2]);
    expect(w.written.sort()).toEqual([2, 3, 4]);
  });

  it('any other error ends the write: rows already written keep their results, the rest get that error', async () => {
    let failures = 0;
    // Two statements hit a bad row; the third finds the database gone.
    const w = fakeWrite([3, 7], () => (++failures <= 2 ? checkViolation : connectionLost));
    const results = await bisectOnDeterministicError([1, 2, 3, 4, 5, 6, 7, 8], w.write);
    expect(results).toEqual([ok('r1'), ok('r2'), ...[3, 4, 5, 6, 7, 8].map(() => no(connectionLost))]);
    // No statement after the database was found gone: the second half is never tried.
    expect(w.calls).toEqual([
      [1, 2, 3, 4, 5, 6, 7, 8],
      [1, 2, 3, 4],
      [1, 2],
      [3, 4],
    ]);
  });

  it('an error no row causes fails the whole batch at once, without splitting', async () => {
    const w = fakeWrite([2], () => connectionLost);
    expect(await bisectOnDeterministicError([1, 2, 3], w.write)).toEqual(
      [1, 2, 3].map(() => no(connectionLost)),
    );
    expect(w.calls).toHaveLength(1);
  });

  it('splitOn chooses which errors a row may cause (a deadlock, say)', async () => {
    const plain = fakeWrite([2], () => deadlock);
    expect((await bisectOnDeterministicError([1, 2], plain.write)).map((r) => r.status)).toEqual([
      'rejected',
      'rejected',
    ]);
    expect(plain.calls).toHaveLength(1);
    const split = fakeWrite([2], () => deadlock);
    const results = await bisectOnDeterministicError([1, 2], split.write, {
      splitOn: (e) => (e as { code?: string }).code === '40P01',
    });
    expect(results).toEqual([ok('r1'), no(deadlock)]);
  });

  it('refused answers a lone refused row (a fallback written instead); what it throws ends the write', async () => {
    const w = fakeWrite([2, 3]);
    const seen: unknown[] = [];
    const results = await bisectOnDeterministicError([1, 2, 3, 4], w.write, {
      refused: (n, err) => {
        seen.push(err);
        if (n === 3) return Promise.reject(connectionLost);
        return Promise.resolve(`fallback${n}`);
      },
    });
    expect(results).toEqual([ok('r1'), ok('fallback2'), no(connectionLost), no(connectionLost)]);
    expect(seen).toEqual([checkViolation, checkViolation]);
    expect(w.written).toEqual([1]); // 4 never tried: the write ended at 3
  });

  it('a write answering the wrong number of results fails what is not written, instead of mismatching', async () => {
    const results = await bisectOnDeterministicError([1, 2], () => Promise.resolve(['only one']));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toBeInstanceOf(Error);
  });

  it('writes nothing for no items', async () => {
    const w = fakeWrite([]);
    expect(await bisectOnDeterministicError([], w.write)).toEqual([]);
    expect(w.calls).toEqual([]);
  });
});
