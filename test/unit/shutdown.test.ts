import { describe, expect, it } from 'vitest';
import { SIGNAL_REPEAT_WINDOW_MS, SignalJudge } from '../../src/lib/shutdown.ts';

/** A judge on a clock the test moves. */
function judgeAt() {
  let now = 0;
  const judge = new SignalJudge(() => now);
  return { judge: (signal: string, at: number) => ((now = at), judge.judge(signal)) };
}

describe('SignalJudge', () => {
  it('the first signal stops', () => {
    expect(judgeAt().judge('SIGINT', 5)).toBe('stop');
  });

  it('the same signal relayed right after (group + tsx + npm) counts once', () => {
    const j = judgeAt();
    expect(j.judge('SIGINT', 1000)).toBe('stop');
    expect(j.judge('SIGINT', 1031)).toBe('repeat');
    expect(j.judge('SIGINT', 1062)).toBe('repeat');
    expect(j.judge('SIGINT', 1000 + SIGNAL_REPEAT_WINDOW_MS - 1)).toBe('repeat');
  });

  it('the same signal once the window is over is a deliberate second Ctrl-C: exit now', () => {
    const j = judgeAt();
    j.judge('SIGINT', 1000);
    expect(j.judge('SIGINT', 1000 + SIGNAL_REPEAT_WINDOW_MS)).toBe('force');
  });

  it('the window runs from the first signal, so relays cannot stretch it', () => {
    const j = judgeAt();
    j.judge('SIGINT', 0);
    j.judge('SIGINT', 900);
    expect(j.judge('SIGINT', 1500)).toBe('force');
  });

  it('another signal is never a relay of the first, however soon', () => {
    const j = judgeAt();
    j.judge('SIGTERM', 0);
    expect(j.judge('SIGINT', 1)).toBe('force');
  });

  it('uses a monotonic clock by default', () => {
    const judge = new SignalJudge();
    expect(judge.judge('SIGTERM')).toBe('stop');
    expect(judge.judge('SIGTERM')).toBe('repeat');
  });
});
