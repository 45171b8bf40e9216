import { describe, expect, it } from 'vitest';
import { BodyDeadlines } from '../../src/http/body-deadlines.js';
import { waitFor } from '../helpers/conditions.js';

describe('BodyDeadlines', () => {
  const deadlines = (timeoutMs: number): BodyDeadlines => new BodyDeadlines(timeoutMs);

  it('expires only the bodies still watched at their deadline, oldest first', async () => {
    const watched = deadlines(40);
    const expired: string[] = [];
    const first = watched.watch(() => expired.push('first'));
    const second = watched.watch(() => expired.push('second'));
    watched.watch(() => expired.push('third'));
    watched.forget(second);
    expect(watched.size).toBe(2);
    await waitFor('both watched bodies to expire', () => expired.length === 2, 2000);
    expect(expired).toEqual(['first', 'third']);
    expect(watched.size).toBe(0);
    // Forgetting one that already expired changes nothing.
    watched.forget(first);
    expect(watched.size).toBe(0);
  });

  it('does not expire a body before its time limit', async () => {
    const watched = deadlines(300);
    const started = performance.now();
    let expiredAt = 0;
    watched.watch(() => (expiredAt = performance.now()));
    await waitFor('the body to expire', () => expiredAt > 0, 3000);
    expect(expiredAt - started).toBeGreaterThanOrEqual(299);
  });

  it('unlinks from the head, the middle and the tail', () => {
    const watched = deadlines(10_000);
    const a = watched.watch(() => undefined);
    const b = watched.watch(() => undefined);
    const c = watched.watch(() => undefined);
    watched.forget(b);
    watched.forget(a);
    watched.forget(c);
    expect(watched.size).toBe(0);
    const d = watched.watch(() => undefined);
    expect(d.previous).toBeNull();
    watched.forget(d);
    expect(watched.size).toBe(0);
    // Its sweeper stops once a sweep finds nothing watched; run one now rather than leave it.
    (watched as unknown as { sweep(): void }).sweep();
  });
});
