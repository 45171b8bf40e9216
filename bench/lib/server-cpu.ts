/**
 * One measured run of a server process under wrk: the CPU its main thread and its
 * whole process spent, per 2xx answer. The CPU window is wrk's lifetime (connecting,
 * the run, closing), so its edges charge the answers with the work of at most one
 * request per connection that wrk stopped waiting for (serverOk − ok shows how many).
 * Where the server is this one, its /metrics counters are read around the window
 * (outside it, so the scrape's own cost is not charged) for the average batch size
 * and the server's own count of successes.
 */
import { cpuBetween, sampleCpu } from './proc-cpu.js';
import { runWrk, type SocketErrors, type WrkOptions } from './wrk.js';

export interface BriskCounters {
  /** brisk_inferences_total for the model: rows inferred. */
  inferences: number;
  /** brisk_executions_total for the model: batches run. */
  executions: number;
  /** brisk_requests_total for the model over REST, primary role, outcome success. */
  restOk: number;
}

const labelValue = (labels: string, name: string): string | undefined => new RegExp(`(?:^|,)${name}="([^"]*)"`).exec(labels)?.[1];

/** The model's counters in a Prometheus text exposition; a series not exported yet counts 0. */
export function parseBriskCounters(text: string, model: string): BriskCounters {
  const counters: BriskCounters = { inferences: 0, executions: 0, restOk: 0 };
  for (const [, metric, labels, value] of text.matchAll(/^(brisk_\w+_total)\{([^}]*)\} (\S+)$/gm)) {
    if (labelValue(labels!, 'model') !== model) continue;
    if (metric === 'brisk_inferences_total') counters.inferences += Number(value);
    else if (metric === 'brisk_executions_total') counters.executions += Number(value);
    else if (
      metric === 'brisk_requests_total' &&
      labelValue(labels!, 'protocol') === 'rest' &&
      labelValue(labels!, 'role') === 'primary' &&
      labelValue(labels!, 'outcome') === 'success'
    ) {
      counters.restOk += Number(value);
    }
  }
  return counters;
}

export async function briskCounters(httpPort: number, model: string): Promise<BriskCounters> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  return parseBriskCounters(await response.text(), model);
}

export interface LoadFigures {
  seconds: number;
  ok: number;
  okPerSecond: number;
  /** Answers with a status above 399. */
  non2xx: number;
  socketErrors: SocketErrors;
  /** CPU µs per 2xx answer; NaN when there was none. */
  mainUsPerOk: number;
  processUsPerOk: number;
  /** Share of one core the main thread was busy over the window (1: saturated). */
  mainBusy: number;
  /** Cores the whole process kept busy on average. */
  processCores: number;
  latencyUs: { p50: number; p90: number; p99: number; mean: number; max: number };
  /** This server only: rows per batch executed over the window. */
  averageBatch?: number;
  /** This server only: its own count of successful REST requests for the model over the window. */
  serverOk?: number;
}

export async function measureUnderLoad(pid: number, load: WrkOptions, counters?: () => Promise<BriskCounters>): Promise<LoadFigures> {
  const countedBefore = counters ? await counters() : undefined;
  const before = sampleCpu(pid);
  const run = await runWrk(load);
  const after = sampleCpu(pid);
  const countedAfter = counters ? await counters() : undefined;
  const cpu = cpuBetween(before, after);
  const perOk = (us: number): number => (run.ok > 0 ? us / run.ok : Number.NaN);
  const figures: LoadFigures = {
    seconds: run.seconds,
    ok: run.ok,
    okPerSecond: run.ok / run.seconds,
    non2xx: run.non2xx,
    socketErrors: run.socketErrors,
    mainUsPerOk: perOk(cpu.mainUs),
    processUsPerOk: perOk(cpu.processUs),
    mainBusy: cpu.mainUs / cpu.wallUs,
    processCores: cpu.processUs / cpu.wallUs,
    latencyUs: run.latencyUs,
  };
  if (countedBefore && countedAfter) {
    const executions = countedAfter.executions - countedBefore.executions;
    figures.averageBatch = executions > 0 ? (countedAfter.inferences - countedBefore.inferences) / executions : Number.NaN;
    figures.serverOk = countedAfter.restOk - countedBefore.restOk;
  }
  return figures;
}

export const socketErrorCount = (e: SocketErrors): number => e.connect + e.read + e.write + e.timeout;
