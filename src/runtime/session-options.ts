/**
 * ONNX Runtime session options for one model version: the worker uses them, and so
 * does the naive baseline (bench/naive-server.ts), so that a comparison of the two
 * measures the serving architecture, not different ONNX Runtime settings.
 */
import type ort from 'onnxruntime-node';
import type { ExecutionProvider } from '../models/model-config.js';
import type { WorkerInit } from './messages.js';

export function sessionOptions(
  settings: Pick<WorkerInit, 'intraOpThreads' | 'intraOpSpinning'>,
  providers: ExecutionProvider[],
): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: providers,
    intraOpNumThreads: settings.intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Spinning intra-op threads would take the cores the main thread needs for I/O.
    extra: { session: { intra_op: { allow_spinning: settings.intraOpSpinning ? '1' : '0' } } },
    // ONNX Runtime prints its own error for a missing CUDA library; we report the reason ourselves.
    logSeverityLevel: providers[0] === 'cuda' ? 4 : 2,
  };
}
