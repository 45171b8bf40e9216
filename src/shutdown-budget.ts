/**
 * The longest shutdown takes, step by step, after the signal: what a supervisor's grace period
 * (Kubernetes' terminationGracePeriodSeconds) must allow before it kills the process, and what
 * test/unit/deploy-manifests.test.ts checks the manifests' grace periods against.
 */
import { CANCEL_WAIT_MS } from './routing/etcd-route-store.js';
import { RELEASE_WAIT_MS } from './runtime/model-pool.js';

/** Time for the answers to requests abandoned at the drain timeout to leave before gRPC is closed by force. */
export const ABANDONED_ANSWERS_MS = 200;
/** After the models close, how long answers to requests that came late (on idle connections) may take to leave. */
export const LATE_ANSWERS_MS = 2000;
/** A batch of a model with no batch_timeout_ms (0) still running at the drain timeout is waited for this long. */
export const NO_LIMIT_BATCH_WAIT_MS = 60_000;

/**
 * Seconds from the signal to the exit, at most: the drain delay, the drain timeout, then the
 * batches still inside ONNX Runtime, waited for up to the longest batch_timeout_ms from the drain
 * timeout (a batch running then started before it, so its requests have been answered by the
 * watchdog by then; a worker still inside its run is ended anyway, which may take the process
 * down as the kubelet's SIGKILL would), the workers releasing their sessions, the late answers,
 * and the route store's watch cancelled.
 */
export function shutdownSecondsAtMost(drainDelaySeconds: number, drainTimeoutSeconds: number, longestBatchTimeoutMs: number): number {
  const afterDrainMs = Math.max(ABANDONED_ANSWERS_MS, longestBatchTimeoutMs) + RELEASE_WAIT_MS + LATE_ANSWERS_MS + CANCEL_WAIT_MS;
  return drainDelaySeconds + drainTimeoutSeconds + afterDrainMs / 1000;
}
