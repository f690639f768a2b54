// The fields of a cron expression: shape, names, macros, and their expansion into sorted values.
// Pure. cron-parser expands each field (lists, ranges, steps, names) and checks ranges; everything
// else (the shape, which syntax we accept, the messages) is ours, so a message names the field.

import { CronExpressionParser } from 'cron-parser';

export const FIELDS = ['second', 'minute', 'hour', 'dayOfMonth', 'month', 'dayOfWeek'] as const;
export type FieldName = (typeof FIELDS)[number];
const LABELS: Record<FieldName, string> = {
  second: 'second',
  minute: 'minute',
  hour: 'hour',
  dayOfMonth: 'day-of-month',
  month: 'month',
  dayOfWeek: 'day-of-week',
};
const NAMES: Partial<Record<FieldName, readonly string[]>> = {
  month: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  dayOfWeek: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
};
// cron-parser knows more macros (@minutely, @secondly, @weekdays…) but not @midnight; we accept the
// classic set only, so a stored expression means the same thing in any cron.
const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const SHAPE_HINT =
  'expected 5 fields (minute hour day-of-month month day-of-week), 6 with a leading seconds field, ' +
  `or one of ${Object.keys(MACROS).join(', ')}`;
export const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export interface Fields {
  values: Record<FieldName, number[]>;
  // Written as `*` or `*/n`: see the day rule in Calendar.dayMatches and the DST rule at the top.
  star: Record<'hour' | 'dayOfMonth' | 'dayOfWeek', boolean>;
}

/** The expanded fields, or an error message naming the field at fault. */
export function parseFields(cron: string): Fields | string {
  let text = cron.trim();
  if (text === '') return `The cron expression is empty: ${SHAPE_HINT}.`;
  // Each list item costs a parse; listing every value of every field takes about 500 characters.
  if (text.length > 1024) return 'The cron expression is too long (at most 1024 characters).';
  if (text.startsWith('@')) {
    const expanded = MACROS[text.toLowerCase()];
    if (!expanded) return `Unknown cron macro "${text}": ${SHAPE_HINT}.`;
    text = expanded;
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    return `The cron expression has ${parts.length} field${parts.length === 1 ? '' : 's'}: ${SHAPE_HINT}.`;
  }
  const raw = parts.length === 5 ? ['0', ...parts] : parts;
  const values = {} as Record<FieldName, number[]>;
  for (const [i, name] of FIELDS.entries()) {
    const expanded = expandField(name, raw[i] ?? '');
    if (typeof expanded === 'string') return `Invalid ${LABELS[name]} field "${raw[i]}": ${expanded}.`;
    values[name] = expanded;
  }
  const isStar = (i: number) => /^\*(\/\d+)?$/.test(raw[i] ?? '');
  const star = { hour: isStar(2), dayOfMonth: isStar(3), dayOfWeek: isStar(5) };
  // A day of month that no chosen month has never fires (unless the day of week rescues it, OR rule).
  // cron-parser refuses these too, without saying why.
  const firstDay = Math.min(...values.dayOfMonth);
  if (!star.dayOfMonth && star.dayOfWeek && values.month.every((m) => firstDay > DAYS_IN_MONTH[m - 1]!)) {
    return `Invalid day-of-month field "${raw[3]}": day ${firstDay} never occurs in month ${raw[4]}, so the schedule would never fire.`;
  }
  return { values, star };
}

/**
 * One field's values (day of week 7 folded onto 0), or what is wrong with it. We check the shape
 * ourselves — plain cron only: no `?`, `L`, `W`, `#` or Jenkins' `H` (random), which cron-parser
 * would accept — then let cron-parser expand the field inside an expression where every other field
 * is `*`, so its (terse) error can only be about this field.
 */
function expandField(name: FieldName, raw: string): number[] | string {
  const names = NAMES[name];
  const value = names ? '(?:\\d+|[a-z]+)' : '\\d+';
  const item = new RegExp(`^(?:\\*|${value}(?:-${value})?)(?:/\\d+)?$`, 'i');
  for (const part of raw.split(',')) {
    if (!item.test(part)) {
      return `"${part}" is not a value, a range (a-b), "*" or a step (*/n, a-b/n)${names ? ` (names: ${names[0]}, ${names[1]}, …)` : ''}`;
    }
    for (const word of part.match(/[a-z]+/gi) ?? []) {
      if (!names?.includes(word.toLowerCase())) {
        return `unknown name "${word}" (use ${names?.join(', ')})`;
      }
    }
  }
  // Names become numbers here rather than in cron-parser, which reads `fri-sun` as the empty 5-0:
  // Sunday ending a range is 7.
  const numeric = names
    ? raw.replace(/(-?)([a-z]+)/gi, (_, dash: string, word: string) => {
        const n = names.indexOf(word.toLowerCase()) + (name === 'month' ? 1 : 0);
        return `${dash}${dash && name === 'dayOfWeek' && n === 0 ? 7 : n}`;
      })
    : raw;
  // Item by item: cron-parser refuses a list whose items overlap (`1-5,3`, even `0,7` for Sunday),
  // which cron allows.
  const values = new Set<number>();
  for (const part of numeric.split(',')) {
    const probe = FIELDS.map((f) => (f === name ? part : f === 'second' ? '0' : '*')).join(' ');
    try {
      // Typed as unions of literal ranges (0 | 1 | … | 59); plain numbers are all we need.
      const expanded: readonly (number | string)[] = CronExpressionParser.parse(probe).fields[name].values;
      for (const v of expanded) if (typeof v === 'number') values.add(name === 'dayOfWeek' ? v % 7 : v);
    } catch (err) {
      return (err as Error).message.replace(/^(Constraint|Validation) error, /, '');
    }
  }
  return [...values].sort((a, b) => a - b);
}
