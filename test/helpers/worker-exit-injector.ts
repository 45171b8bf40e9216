/**
 * Test-only fault injection, preloaded into a server with `--import`. In a worker
 * thread:
 * - a batch whose first input starts with EXIT_TRIGGER makes the thread exit just
 *   before ONNX Runtime would run it, as a worker that dies does;
 * - while the file named by START_BLOCKER_ENV exists, a new thread exits before it
 *   has loaded its model, as a worker that cannot start does.
 * Production code stays free of fault hooks; the recovery paths tested are the real ones.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { projectFile } from '../../src/project-files.js';

export const EXIT_TRIGGER = 4242;
export const EXIT_CODE = 70;
export const START_BLOCKER_ENV = 'BRISK_TEST_WORKER_START_BLOCKER';

if (!isMainThread) {
  const blocker = process.env[START_BLOCKER_ENV];
  if (blocker && existsSync(blocker)) process.exit(EXIT_CODE);

  // The same module instance the worker imports: onnxruntime-node is CommonJS.
  const runtime = createRequire(projectFile('package.json'))('onnxruntime-node') as {
    InferenceSession: { prototype: { run: (...args: unknown[]) => unknown } };
  };
  const prototype = runtime.InferenceSession.prototype;
  const run = prototype.run;
  prototype.run = function (this: unknown, ...args: unknown[]) {
    const feeds = args[0] as Record<string, { data: ArrayLike<unknown> }>;
    const first = Object.values(feeds)[0];
    if (first?.data[0] === EXIT_TRIGGER) process.exit(EXIT_CODE);
    return run.apply(this, args);
  };
}
