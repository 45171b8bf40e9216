/**
 * When a replica serves a change: inference requests with a fixed routing key, sent one after
 * another, until one is answered by the expected model version. The time is taken when that
 * answer arrives, so it is an upper bound, over by at most one request's round trip.
 */

export interface ProbeResult {
  /** From `since` to the first answer by the expected version; undefined when it never came. */
  ms: number | undefined;
  probes: number;
  /** Probes that got no 200 (status or error), by kind: each one is a failed request too. */
  failures: Record<string, number>;
  /** Round trip of the last probe: the resolution of `ms`. */
  lastRoundTripMs: number;
}

export interface ProbeTarget {
  /** The replica's infer URL for the route. */
  url: string;
  body: string;
  routingKey: string;
}

export async function timeToServe(target: ProbeTarget, expectedVersion: string, since: number, timeoutMs: number): Promise<ProbeResult> {
  const result: ProbeResult = { ms: undefined, probes: 0, failures: {}, lastRoundTripMs: 0 };
  const fail = (kind: string): void => void (result.failures[kind] = (result.failures[kind] ?? 0) + 1);
  while (performance.now() - since < timeoutMs) {
    const sentAt = performance.now();
    result.probes += 1;
    let version: string | undefined;
    try {
      const response = await fetch(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-routing-key': target.routingKey },
        body: target.body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      if (response.status === 200) version = (JSON.parse(text) as { model_version?: string }).model_version;
      else fail(String(response.status));
    } catch (error) {
      fail((error as { cause?: { code?: string } }).cause?.code ?? (error instanceof Error ? error.name : 'error'));
    }
    const answeredAt = performance.now();
    result.lastRoundTripMs = answeredAt - sentAt;
    if (version === expectedVersion) {
      result.ms = answeredAt - since;
      return result;
    }
  }
  return result;
}
