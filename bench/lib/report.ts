import type { LoadResult } from './load.js';

/** The run with the median throughput: a whole run, so its percentiles belong together. */
export const medianRun = <Run extends LoadResult>(runs: readonly Run[]): Run =>
  [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[Math.floor(runs.length / 2)]!;
