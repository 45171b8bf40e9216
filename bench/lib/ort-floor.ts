/**
 * The compute floor: ONNX Runtime in this process, one intra-op thread, session.run
 * on a fixed batch in a loop, and the CPU time that costs per row (process.cpuUsage:
 * every thread of this process, so whatever ONNX Runtime or V8 does off the calling
 * thread is counted too). No HTTP, no queue, no thread hop: what a row costs at
 * best, to hold the server's whole-process CPU per inference against.
 *
 * The caller keeps the process otherwise idle while it measures.
 */
import ort from 'onnxruntime-node';
import { sessionOptions } from '../../src/runtime/session-options.js';

export interface FloorPoint {
  batchSize: number;
  rows: number;
  /** CPU µs per row, all threads of this process. */
  cpuUsPerRow: number;
  /** Wall µs per row: above cpuUsPerRow when the thread waited for a core. */
  wallUsPerRow: number;
}

export class OrtFloor {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly inputName: string,
    private readonly rowSize: number,
  ) {}

  /** The server's own session options for the model, but one intra-op thread (and so nothing to spin). */
  static async open(modelPath: string, inputName: string, rowSize: number): Promise<OrtFloor> {
    const session = await ort.InferenceSession.create(modelPath, sessionOptions({ intraOpThreads: 1, intraOpSpinning: false }, ['cpu']));
    return new OrtFloor(session, inputName, rowSize);
  }

  /** Runs one batch size for `seconds` after a short warm-up; the same feeds every run. */
  async measure(batchSize: number, seconds: number): Promise<FloorPoint> {
    const data = Float32Array.from({ length: batchSize * this.rowSize }, (_, i) => Math.sin(i) * 0.5);
    const feeds = { [this.inputName]: new ort.Tensor('float32', data, [batchSize, this.rowSize]) };
    for (let i = 0; i < 3; i++) await this.session.run(feeds);
    let rows = 0;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const end = started + seconds * 1000;
    while (performance.now() < end) {
      await this.session.run(feeds);
      rows += batchSize;
    }
    const wallUs = (performance.now() - started) * 1000;
    const cpu = process.cpuUsage(cpuBefore);
    return { batchSize, rows, cpuUsPerRow: (cpu.user + cpu.system) / rows, wallUsPerRow: wallUs / rows };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** The batch size whose row costs least. */
export const bestFloor = (points: readonly FloorPoint[]): FloorPoint =>
  points.reduce((best, p) => (p.cpuUsPerRow < best.cpuUsPerRow ? p : best));
