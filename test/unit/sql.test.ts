import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { join, raw, sql, Sql } from '../../src/sql/sql.ts';

describe('the sql tagged template', () => {
  it('numbers each value in the order it appears and passes the values in that order', () => {
    const q = sql`SELECT * FROM t WHERE a = ${1} AND b = ${'two'} LIMIT ${3}`;
    expect(q.text).toBe('SELECT * FROM t WHERE a = $1 AND b = $2 LIMIT $3');
    expect(q.values).toEqual([1, 'two', 3]);
  });

  it('gives a value used twice two parameters, each with its own number', () => {
    const id = 'x';
    const q = sql`a = ${id} OR b = ${id}`;
    expect(q.text).toBe('a = $1 OR b = $2');
    expect(q.values).toEqual(['x', 'x']);
  });

  it('passes null, arrays and buffers as one parameter each (unnest takes arrays)', () => {
    const buf = Buffer.from('hi');
    const q = sql`unnest(${[1, 2, 3]}::int[], ${['a', null]}::text[]) WHERE h = ${buf} AND n = ${null}`;
    expect(q.text).toBe('unnest($1::int[], $2::text[]) WHERE h = $3 AND n = $4');
    expect(q.values).toEqual([[1, 2, 3], ['a', null], buf, null]);
  });

  it('renumbers a nested fragment after the parameters that come before it', () => {
    const inner = sql`b = ${'B'} AND c = ${'C'}`;
    const q = sql`a = ${'A'} AND (${inner}) AND d = ${'D'}`;
    expect(q.text).toBe('a = $1 AND (b = $2 AND c = $3) AND d = $4');
    expect(q.values).toEqual(['A', 'B', 'C', 'D']);
  });

  it('renumbers fragments nested two deep, and the same fragment used twice', () => {
    const leaf = sql`x = ${'X'}`;
    const mid = sql`${leaf} OR y = ${'Y'}`;
    const q = sql`${mid} AND ${leaf} AND z = ${'Z'}`;
    expect(q.text).toBe('x = $1 OR y = $2 AND x = $3 AND z = $4');
    expect(q.values).toEqual(['X', 'Y', 'X', 'Z']);
    // The fragment itself still renders from $1 on its own.
    expect(leaf.text).toBe('x = $1');
  });

  it('splices raw text as is, without a parameter', () => {
    const q = sql`SELECT ${raw('id, name')} FROM ${raw('jobs')} WHERE id = ${7}`;
    expect(q.text).toBe('SELECT id, name FROM jobs WHERE id = $1');
    expect(q.values).toEqual([7]);
  });

  it('takes a string that looks like SQL as a value, never as text', () => {
    const hostile = "x'; DROP TABLE jobs; --";
    const q = sql`name = ${hostile}`;
    expect(q.text).toBe('name = $1');
    expect(q.values).toEqual([hostile]);
  });

  it('takes a plain object (a JSON value) as a value, whatever its keys', () => {
    const headers = { text: 'DROP TABLE jobs', values: [1], raw: 'x' };
    const q = sql`h = ${headers}::jsonb`;
    expect(q.text).toBe('h = $1::jsonb');
    expect(q.values).toEqual([headers]);
  });
});

describe('join', () => {
  it('joins fragments with the separator and numbers their parameters in order', () => {
    const where = join([sql`a = ${1}`, sql`b = ${2}`, sql`c IS NULL`, sql`d = ${4}`], ' AND ');
    const q = sql`SELECT 1 WHERE ${where} LIMIT ${10}`;
    expect(q.text).toBe('SELECT 1 WHERE a = $1 AND b = $2 AND c IS NULL AND d = $3 LIMIT $4');
    expect(q.values).toEqual([1, 2, 4, 10]);
  });

  it('of one fragment is that fragment, without a separator', () => {
    const q = join([sql`a = ${1}`], ' AND ');
    expect(q.text).toBe('a = $1');
    expect(q.values).toEqual([1]);
  });

  it('of no fragments is empty text with no parameters', () => {
    const q = sql`SELECT 1 FROM t ${join([], ' AND ')}LIMIT ${5}`;
    expect(q.text).toBe('SELECT 1 FROM t LIMIT $1');
    expect(q.values).toEqual([5]);
  });
});

describe('as a pg QueryConfig', () => {
  it('is read correctly by pg, which copies the config before reading it', () => {
    const q = sql`SELECT ${1}::int + ${2}::int AS n`;
    // What client.query(q) builds: pg clones the config (prototype and own properties) first.
    const query = new pg.Query(q) as unknown as { text: string; values: unknown[] };
    expect(query.text).toBe('SELECT $1::int + $2::int AS n');
    expect(query.values).toEqual([1, 2]);
  });

  it('renders once: text and values come from the same rendering', () => {
    const q = sql`a = ${'A'} AND ${sql`b = ${'B'}`}`;
    expect(q.values).toBe(q.values);
    expect(q.text).toBe('a = $1 AND b = $2');
  });

  it('named() is a prepared statement: name, text and values', () => {
    const q = sql`SELECT ${1} AS n`.named('djs_test');
    expect(q).toEqual({ name: 'djs_test', text: 'SELECT $1 AS n', values: [1] });
  });

  it('is an Sql, which the template and join both return', () => {
    expect(sql`x`).toBeInstanceOf(Sql);
    expect(join([], ', ')).toBeInstanceOf(Sql);
  });
});
