/**
 * What a running server says about itself, read the way an operator would: /metrics series and
 * the statistics extension. Tests wait on these to know where a request is (running, queued,
 * dropped) instead of sleeping.
 */
import { waitFor } from './conditions.js';
import { request } from './server.js';

export const IN_FLIGHT = 'brisk_requests_in_flight';
export const queueDepth = (model: string, version = '1'): string => `brisk_queue_depth{model="${model}",version="${version}"}`;

export const scrape = async (serverUrl: string): Promise<string> => (await request(`${serverUrl}/metrics`)).body.toString();

/** The value of one series, by its name and exact labels as the server writes them. */
export function seriesValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`no series ${series}`);
  return Number(line.slice(series.length + 1));
}

/** Waits until every series given has its value, in one scrape. */
export function waitForSeries(serverUrl: string, expected: Record<string, number>, timeoutMs?: number): Promise<void> {
  return waitFor(
    Object.entries(expected).map(([series, value]) => `${series} ${value}`).join(' and '),
    async () => {
      const text = await scrape(serverUrl);
      return Object.entries(expected).every(([series, value]) => seriesValue(text, series) === value);
    },
    timeoutMs,
  );
}

export interface ModelStats {
  inference_count: number;
  execution_count: number;
  batch_stats: { batch_size: number; compute_infer: { count: number } }[];
  dropped: { cancelled: number; timedOut: number; rejected: number };
}

/** The REST statistics of a model's (only or first) version. */
export const modelStats = async (serverUrl: string, model: string): Promise<ModelStats> =>
  (await request(`${serverUrl}/v2/models/${model}/stats`)).json<{ model_stats: ModelStats[] }>().model_stats[0]!;
