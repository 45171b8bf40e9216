import type { LoadResult } from './load.js';
import { machineLine, type MachineInfo } from './machine.js';

/** The run with the median throughput: a whole run, so its percentiles belong together. */
export const medianRun = (runs: readonly LoadResult[]): LoadResult =>
  [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[Math.floor(runs.length / 2)]!;

export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The opening lines every result file has: what it measures, the command that made it, the machine. */
export const reportHeading = (title: string, command: string, machine: MachineInfo): string[] => [
  `# ${title}`,
  '',
  `Command: \`${command}\``,
  '',
  machineLine(machine),
];
