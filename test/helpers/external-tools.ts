/**
 * Programs from outside the project that some tests run (Debian's prometheus package, which
 * .ci/run installs). Without one, those tests are skipped, and say why, in their names and on
 * stderr: a check that cannot run must not pass as if it had.
 */
import { spawnSync } from 'node:child_process';

export interface ExternalTool {
  available: boolean;
  /** Appended to the name of a test that needs the tool: empty when it is installed. */
  skipNote: string;
}

export function externalTool(command: 'promtool' | 'prometheus'): ExternalTool {
  if (spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0) return { available: true, skipNote: '' };
  const reason = `${command} is not installed; .ci/run installs Debian's prometheus package`;
  console.warn(`skipping the tests that need ${command}: ${reason}`);
  return { available: false, skipNote: ` (skipped: ${reason})` };
}
