/** The console's server-side parts on their own: the figure history, the sign-in limit and the sessions, each with a clock of the test's own. */
import { describe, expect, it } from 'vitest';
import { COLUMNS, FigureHistory, HISTORY_SECONDS, SAMPLE_INTERVAL_MS, type VersionReading } from '../../src/console/figure-history.js';
import { cookieValue, SessionStore } from '../../src/console/session-store.js';
import { SignInLimiter } from '../../src/console/sign-in-limiter.js';

const reading = (over: Partial<VersionReading> = {}): VersionReading => ({
  model: 'm',
  version: '1',
  success: 0,
  fail: 0,
  inferences: 0,
  executions: 0,
  queued: 0,
  p50: 0,
  p95: 0,
  p99: 0,
  ...over,
});
const column = (series: (number | null)[][] | undefined, name: (typeof COLUMNS)[number]) => series![COLUMNS.indexOf(name)]!;

describe('figure history', () => {
  it('turns cumulative counters into rates per sample', () => {
    const history = new FigureHistory();
    history.sample([reading()], 0);
    expect(history.latest('m/1')).toBeUndefined();
    history.sample([reading({ success: 90, fail: 10, inferences: 300, executions: 50, queued: 3, p50: 0.002, p95: 0.004, p99: 0.008 })], 2000);
    expect(history.latest('m/1')).toEqual({ t: 2000, rps: 50, error_rate: 0.1, p50_ms: 2, p95_ms: 4, p99_ms: 8, avg_batch: 6, queue: 3 });
    // A quiet sample: no rate of errors, no batch size, rather than a made-up 0.
    history.sample([reading({ success: 90, fail: 10, inferences: 300, executions: 50 })], 4000);
    expect(history.latest('m/1')).toMatchObject({ rps: 0, error_rate: null, avg_batch: null, p99_ms: null });
  });

  it('keeps 15 minutes per version, oldest dropped, and forgets versions no longer served', () => {
    const history = new FigureHistory();
    const capacity = (HISTORY_SECONDS * 1000) / SAMPLE_INTERVAL_MS;
    for (let i = 0; i <= capacity + 100; i++) history.sample([reading({ success: i * 10 }), reading({ version: '2' })], i * SAMPLE_INTERVAL_MS);
    const t = column(history.series('m/1'), 't');
    expect(t).toHaveLength(capacity);
    expect(t[0]).toBe(101 * SAMPLE_INTERVAL_MS);
    expect(t.at(-1)).toBe((capacity + 100) * SAMPLE_INTERVAL_MS);
    expect(column(history.series('m/1'), 'rps').every((r) => r === 5)).toBe(true);
    history.sample([reading({ success: 0 })], (capacity + 101) * SAMPLE_INTERVAL_MS);
    expect(history.series('m/2')).toBeUndefined();
    // Counters that went backwards (a reload that started counting afresh) give 0, not a negative rate.
    expect(history.latest('m/1')?.rps).toBe(0);
  });
});

describe('sign-in limiter', () => {
  it('allows a few wrong tokens per address per window, then makes it wait until the window ends', () => {
    let now = 0;
    const limiter = new SignInLimiter({ perAddress: 3, total: 100, windowMs: 60_000 }, () => now);
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterSeconds('a')).toBe(0);
      limiter.failed('a');
    }
    expect(limiter.retryAfterSeconds('a')).toBe(60);
    expect(limiter.retryAfterSeconds('b')).toBe(0);
    now = 45_000;
    expect(limiter.retryAfterSeconds('a')).toBe(15);
    now = 60_000;
    expect(limiter.retryAfterSeconds('a')).toBe(0);
  });

  it('caps wrong tokens from all addresses together', () => {
    let now = 0;
    const limiter = new SignInLimiter({ perAddress: 3, total: 5, windowMs: 10_000 }, () => now);
    for (let i = 0; i < 5; i++) limiter.failed(`address-${i}`);
    expect(limiter.retryAfterSeconds('fresh')).toBe(10);
    now = 10_000;
    expect(limiter.retryAfterSeconds('fresh')).toBe(0);
  });
});

describe('sessions', () => {
  it('end at their expiry, are not extended by use, and end on sign-out', () => {
    let now = 1_000_000;
    const store = new SessionStore(60, () => now);
    const { id, session } = store.create('alice');
    expect(session.name).toBe('alice');
    expect(session.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.csrf).not.toBe(id);
    now += 59_000;
    expect(store.fromCookie(`other=1; brisk_console=${id}`)?.session).toBe(session);
    now += 1_000;
    expect(store.fromCookie(`brisk_console=${id}`)).toBeUndefined();
    const second = store.create('bob');
    store.end(second.id);
    expect(store.fromCookie(`brisk_console=${second.id}`)).toBeUndefined();
  });

  it('keep at most a thousand, the oldest dropped first', () => {
    const store = new SessionStore(3600);
    const first = store.create('a');
    for (let i = 0; i < 1000; i++) store.create('a');
    expect(store.size).toBe(1000);
    expect(store.fromCookie(`brisk_console=${first.id}`)).toBeUndefined();
  });

  it('read only plain cookie values', () => {
    expect(cookieValue('a=1; brisk_console=abc_-9', 'brisk_console')).toBe('abc_-9');
    expect(cookieValue('brisk_console="x;y"', 'brisk_console')).toBeUndefined();
    expect(cookieValue('xbrisk_console=abc', 'brisk_console')).toBeUndefined();
    expect(cookieValue('', 'brisk_console')).toBeUndefined();
  });
});
