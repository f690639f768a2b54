// Parameterised SQL as a tagged template: each `${value}` becomes the next `$n` and its value goes to
// `values` in the same step, so a parameter's number can never drift from its place in the text (the
// positional `$17`/`$18` lists could). `sql` fragments nest (their parameters are renumbered) and
// `raw` splices trusted text (an identifier chosen from a fixed list, never user input).
import type { QueryConfig } from 'pg';

const RAW = Symbol('raw');

/** Text that is spliced as is: only ever a constant of the application. */
export interface Raw {
  readonly [RAW]: string;
}
export const raw = (text: string): Raw => ({ [RAW]: text });

const isRaw = (arg: unknown): arg is Raw => typeof arg === 'object' && arg !== null && RAW in arg;

/** A statement or fragment: pass it to `pool.query(q)` / `client.query(q)` (a pg QueryConfig). */
export class Sql implements QueryConfig<unknown[]> {
  // A plain property, not a #private one: pg copies a QueryConfig (prototype and own properties)
  // before reading it, and a copy has no private slots, so a getter using one would throw.
  private rendered: { text: string; values: unknown[] } | undefined;

  constructor(
    readonly parts: readonly string[],
    readonly args: readonly unknown[],
  ) {}

  get text(): string {
    return this.statement().text;
  }

  get values(): unknown[] {
    return this.statement().values;
  }

  /** A prepared statement under `name`: its text must be the same on every call (no variable `join`). */
  named(name: string): QueryConfig<unknown[]> & { name: string } {
    const { text, values } = this.statement();
    return { name, text, values };
  }

  /** Text with `$n` placeholders numbered after `values` already taken, and the values appended. */
  render(values: unknown[]): { text: string; values: unknown[] } {
    let text = this.parts[0]!;
    this.args.forEach((arg, i) => {
      if (arg instanceof Sql) text += arg.render(values).text;
      else if (isRaw(arg)) text += arg[RAW];
      else {
        values.push(arg);
        text += `$${values.length}`;
      }
      text += this.parts[i + 1]!;
    });
    return { text, values };
  }

  /** Rendered once: pg reads `text` and then `values`. */
  private statement(): { text: string; values: unknown[] } {
    return (this.rendered ??= this.render([]));
  }
}

export const sql = (parts: TemplateStringsArray, ...args: unknown[]): Sql => new Sql(parts, args);

/** Fragments joined by `separator` (e.g. conditions by ' AND '); empty when there are none. */
export function join(fragments: readonly Sql[], separator: string): Sql {
  if (fragments.length === 0) return sql``;
  const parts = ['', ...fragments.slice(1).map(() => separator), ''];
  return new Sql(parts, fragments);
}
