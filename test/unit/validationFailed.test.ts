import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError, parseOrThrow, validationFailed, zodDetails } from '../../src/errors.ts';

describe('validation errors', () => {
  it('validationFailed is the one 400 validation_failed, carrying its details', () => {
    const e = validationFailed([{ path: 'cursor', message: 'is not a valid cursor' }]);
    expect(e).toBeInstanceOf(AppError);
    expect(e.status).toBe(400);
    expect(e.code).toBe('validation_failed');
    expect(e.message).toBe('the request is not valid');
    expect(e.details).toEqual([{ path: 'cursor', message: 'is not a valid cursor' }]);
  });

  it('zodDetails joins paths with dots and names a whole-input issue "(body)"', () => {
    expect(
      zodDetails([
        { path: ['request', 'headers', 0], message: 'bad' },
        { path: [], message: 'expected an object' },
      ]),
    ).toEqual([
      { path: 'request.headers.0', message: 'bad' },
      { path: '(body)', message: 'expected an object' },
    ]);
  });

  it('parseOrThrow returns the parsed output, or throws every issue at once', () => {
    const schema = z.strictObject({ a: z.string().transform(Number), b: z.number() });
    expect(parseOrThrow(schema, { a: '1', b: 2 })).toEqual({ a: 1, b: 2 });
    let thrown: unknown;
    try {
      parseOrThrow(schema, { a: 1, b: 'x' });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect((thrown as AppError).code).toBe('validation_failed');
    expect(((thrown as AppError).details as { path: string }[]).map((d) => d.path)).toEqual(['a', 'b']);
  });
});
