/** What a load result was measured on, and from which revision: every report carries it. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  gitRevision: string;
  date: string;
}

export function machineInfo(): MachineInfo {
  let gitRevision = 'unknown';
  try {
    gitRevision = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim();
    if (dirty) gitRevision += '+dirty';
  } catch {
    // Not a git checkout: the revision stays unknown.
  }
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    gitRevision,
    date: new Date().toISOString(),
  };
}

/** The machine sentence every report carries. */
export function machineLine(machine: MachineInfo): string {
  return `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, Node.js ${machine.node}; revision ${machine.gitRevision}; ${machine.date}.`;
}

/** The opening lines every result file has: what it measures, the command that made it, the machine. */
export const reportHeading = (title: string, command: string, machine: MachineInfo): string[] => [
  `# ${title}`,
  '',
  `Command: \`${command}\``,
  '',
  machineLine(machine),
];
