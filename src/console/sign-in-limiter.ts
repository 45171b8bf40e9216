/**
 * Wrong admin tokens at the console's sign-in are rate-limited: a few per client
 * address per window, and a ceiling for all addresses together, so that guessing
 * from many addresses is as slow as from one. While limited, even a right token
 * is refused: the limit must not become an oracle.
 */
export interface SignInLimits {
  /** Wrong tokens one address may send per window. */
  perAddress: number;
  /** Wrong tokens all addresses together may send per window. */
  total: number;
  windowMs: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = { perAddress: 5, total: 50, windowMs: 60_000 };
/** Addresses tracked at once; past it the table starts over (the total ceiling still holds). */
const MAX_ADDRESSES = 10_000;

interface Window {
  startedMs: number;
  failures: number;
}

export class SignInLimiter {
  private readonly byAddress = new Map<string, Window>();
  private total: Window = { startedMs: 0, failures: 0 };

  constructor(
    private readonly limits: SignInLimits = DEFAULT_SIGN_IN_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds to wait before trying again, or 0 when a try is allowed. */
  retryAfterSeconds(address: string): number {
    const now = this.now();
    const waits = [this.current(this.total, now), this.current(this.byAddress.get(address), now)]
      .map((w, i) => (w && w.failures >= (i === 0 ? this.limits.total : this.limits.perAddress) ? w.startedMs + this.limits.windowMs - now : 0));
    return Math.ceil(Math.max(0, ...waits) / 1000);
  }

  failed(address: string): void {
    const now = this.now();
    this.total = this.current(this.total, now) ?? { startedMs: now, failures: 0 };
    this.total.failures += 1;
    if (this.byAddress.size >= MAX_ADDRESSES) this.byAddress.clear();
    const window = this.current(this.byAddress.get(address), now) ?? { startedMs: now, failures: 0 };
    window.failures += 1;
    this.byAddress.set(address, window);
  }

  /** The window if it is still open. */
  private current(window: Window | undefined, now: number): Window | undefined {
    return window && now - window.startedMs < this.limits.windowMs ? window : undefined;
  }
}
