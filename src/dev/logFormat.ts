// `npm run dev` shows the JSON log lines of its processes as short coloured lines, and a sign-in link
// (MAIL_TRANSPORT=log, field `magic_link`) as a green envelope that is easy to spot. Pure: a line in,
// the text to print out.

const COLORS: Record<string, string> = { server: '\x1b[36m', scheduler: '\x1b[35m', dev: '\x1b[33m' };
const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** The text (newline included) to print for one output `line` of process `name`; non-JSON lines pass as they are. */
export function formatLogLine(name: string, line: string): string {
  const tag = `${COLORS[name] ?? ''}${name.padEnd(9)}\x1b[0m`;
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    const { level, time, msg, service: _s, name: _n, ...rest } = o;
    const t = typeof time === 'string' ? time.slice(11, 23) : '';
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    if (typeof rest.magic_link === 'string') {
      return `${t} ${tag} \x1b[1;32m✉  sign-in link for ${String(rest.to)}:\n    ${rest.magic_link}\x1b[0m\n`;
    }
    return `${t} ${tag} ${LEVELS[level as number] ?? String(level)} ${String(msg)}${extra}\n`;
  } catch {
    return `${tag} ${line}\n`;
  }
}
