import { describe, expect, it } from 'vitest';
import { formatLogLine } from '../../src/dev/logFormat.ts';

const RESET = '\x1b[0m';

describe('formatLogLine (npm run dev console)', () => {
  it('shows a JSON line as time, coloured process tag, level, message and the remaining fields', () => {
    const line = JSON.stringify({
      level: 30,
      time: '2025-01-02T03:04:05.678Z',
      service: 'server',
      name: 'server',
      msg: 'request',
      status: 200,
    });
    expect(formatLogLine('server', line)).toBe(
      `03:04:05.678 \x1b[36mserver   ${RESET} INFO request {"status":200}\n`,
    );
  });

  it('leaves out the extra fields when there are none, and names unknown levels by number', () => {
    expect(formatLogLine('scheduler', JSON.stringify({ level: 35, msg: 'hi' }))).toBe(
      ` \x1b[35mscheduler${RESET} 35 hi\n`,
    );
    expect(formatLogLine('dev', JSON.stringify({ level: 50, msg: 'boom' }))).toBe(
      ` \x1b[33mdev      ${RESET} ERROR boom\n`,
    );
  });

  it('shows a logged sign-in link as a green envelope with the link on its own line', () => {
    const line = JSON.stringify({
      level: 30,
      time: '2025-01-02T03:04:05.678Z',
      to: 'a@example.com',
      magic_link: 'http://localhost:3000/v1/auth/verify?token=abc',
      msg: 'sign-in link',
    });
    expect(formatLogLine('server', line)).toBe(
      `03:04:05.678 \x1b[36mserver   ${RESET} \x1b[1;32m✉  sign-in link for a@example.com:\n` +
        `    http://localhost:3000/v1/auth/verify?token=abc${RESET}\n`,
    );
  });

  it('passes a line that is not JSON through after the tag, and an unknown process gets no colour', () => {
    expect(formatLogLine('server', 'Error: listen EADDRINUSE')).toBe(
      `\x1b[36mserver   ${RESET} Error: listen EADDRINUSE\n`,
    );
    expect(formatLogLine('other', 'plain')).toBe(`other    ${RESET} plain\n`);
  });
});
