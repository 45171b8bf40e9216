/**
 * CPU time of a process and of its main thread, from Linux's /proc: utime + stime
 * of /proc/<pid>/stat (every thread of the process, living or exited) and of
 * /proc/<pid>/task/<pid>/stat (the main thread alone: its tid is the pid).
 * The kernel reports them in clock ticks (`getconf CLK_TCK`, 100 on most systems).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** Clock ticks a second, as the kernel counts utime and stime. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const answer = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (!Number.isInteger(answer) || answer <= 0) throw new Error(`getconf CLK_TCK answered ${JSON.stringify(answer)}`);
    ticksPerSecond = answer;
  }
  return ticksPerSecond;
}

export interface StatTimes {
  comm: string;
  utimeTicks: number;
  stimeTicks: number;
}

/**
 * Reads a stat line. The command name is in parentheses and may itself hold spaces and
 * parentheses, so the fields are counted from the last ")": utime and stime are fields
 * 14 and 15 of the line (proc(5)), the 12th and 13th after it.
 */
export function parseStat(line: string): StatTimes {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc stat line: ${JSON.stringify(line.slice(0, 80))}`);
  const fields = line.slice(close + 2).trim().split(' ');
  const utimeTicks = Number(fields[11]);
  const stimeTicks = Number(fields[12]);
  if (!Number.isInteger(utimeTicks) || !Number.isInteger(stimeTicks)) {
    throw new Error(`no utime/stime in /proc stat line: ${JSON.stringify(line.slice(0, 200))}`);
  }
  return { comm: line.slice(open + 1, close), utimeTicks, stimeTicks };
}

/** CPU time so far, in microseconds. */
export interface CpuSample {
  /** performance.now() when read, in ms. */
  atMs: number;
  /** All the process's threads. */
  processUs: number;
  /** The main thread: for a Node.js server, its event loop (the I/O thread). */
  mainUs: number;
}

const ticksToUs = (t: StatTimes): number => ((t.utimeTicks + t.stimeTicks) * 1e6) / clockTicksPerSecond();

export function sampleCpu(pid: number): CpuSample {
  const processUs = ticksToUs(parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')));
  const mainUs = ticksToUs(parseStat(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8')));
  return { atMs: performance.now(), processUs, mainUs };
}

export interface CpuUsed {
  wallUs: number;
  processUs: number;
  mainUs: number;
}

export const cpuBetween = (before: CpuSample, after: CpuSample): CpuUsed => ({
  wallUs: (after.atMs - before.atMs) * 1000,
  processUs: after.processUs - before.processUs,
  mainUs: after.mainUs - before.mainUs,
});
