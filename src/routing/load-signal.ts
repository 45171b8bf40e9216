/**
 * How busy the I/O thread is: event-loop utilisation over the last interval.
 * That thread is what saturates first (it parses, queues and answers every
 * request), so it is the signal for shedding optional work such as shadows.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export class LoadSignal {
  private last: EventLoopUtilization = performance.eventLoopUtilization();
  private current = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 100) {
    this.timer = setInterval(() => {
      const now = performance.eventLoopUtilization();
      this.current = performance.eventLoopUtilization(now, this.last).utilization;
      this.last = now;
    }, intervalMs);
    this.timer.unref();
  }

  /** 0 (idle) to 1 (never idle) over the last interval. */
  get utilization(): number {
    return this.current;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
