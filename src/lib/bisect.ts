// Finding the rows a database refuses in a multi-row write, without refusing their neighbours.
//
// A multi-row statement is all or nothing: one row that breaks a CHECK, or text Postgres cannot
// hold, fails every row with it, and the same rows fail the same way however often they are sent.
// So the batch is split in halves and each half written again, until a refused row is alone: the
// others are written after about 2·log2(n) statements, one at a time, and the refused row gets an
// answer of its own. The create path (src/jobs/creates.ts) and the result writer
// (src/scheduler/completer.ts) both write this way.
import { isDeterministicWriteError } from '../errors.ts';

export interface BisectOptions<T, R> {
  /**
   * Errors one row of the batch may have caused, so that a smaller batch may succeed. Default:
   * `isDeterministicWriteError` (SQLSTATE class 22, data exception, or 23, constraint violation).
   */
  splitOn?: (err: unknown) => boolean;
  /**
   * The answer for a row written alone and still refused with such an error (say, a cleaned row
   * written instead). Without it the error is that row's answer. What it throws ends the whole write,
   * as any other error does.
   */
  refused?: (item: T, err: unknown) => Promise<R>;
}

/**
 * Writes `items` with `write`, which writes all of its batch or nothing (one statement or one
 * transaction) and answers one result per item, in order. Batches failing with a `splitOn` error are
 * halved; any other error (the database unreachable) ends the write and is the answer of every item
 * not written yet: more statements would only meet it again. Returns one settled result per item, in
 * the items' order; never rejects.
 */
export async function bisectOnDeterministicError<T, R>(
  items: readonly T[],
  write: (batch: T[]) => Promise<R[]>,
  options: BisectOptions<T, R> = {},
): Promise<PromiseSettledResult<R>[]> {
  const splitOn = options.splitOn ?? isDeterministicWriteError;
  const results: (PromiseSettledResult<R> | undefined)[] = items.map(() => undefined);

  /** Writes items[from, to); throws the error that ends the whole write. */
  const attempt = async (from: number, to: number): Promise<void> => {
    const batch = items.slice(from, to);
    let values: R[];
    try {
      values = await write(batch);
    } catch (err) {
      if (!splitOn(err)) throw err;
      if (batch.length > 1) {
        const mid = from + (batch.length >> 1);
        await attempt(from, mid);
        await attempt(mid, to);
      } else if (options.refused) {
        results[from] = { status: 'fulfilled', value: await options.refused(batch[0]!, err) };
      } else {
        results[from] = { status: 'rejected', reason: err };
      }
      return;
    }
    if (values.length !== batch.length)
      throw new Error(`write returned ${values.length} results for ${batch.length} items`);
    values.forEach((value, i) => (results[from + i] = { status: 'fulfilled', value }));
  };

  if (items.length > 0) {
    try {
      await attempt(0, items.length);
    } catch (err) {
      for (let i = 0; i < results.length; i++) results[i] ??= { status: 'rejected', reason: err };
    }
  }
  return results as PromiseSettledResult<R>[];
}
