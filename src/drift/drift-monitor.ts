/**
 * Drift of one model version load: its reference (loaded from drift_reference.json,
 * or captured from the first reference_rows rows it serves), the current window, and
 * the report. The scheduler calls it once per batch, never per request:
 *  - while capturing, takeRows copies the batch's first rows still wanted (a bounded,
 *    one-time cost) and batchDone adds their outputs; once reference_rows are in, the
 *    reference is built off the request path and the plan goes to the workers;
 *  - once ready, the workers count sampled rows into bins after each run, and
 *    batchDone adds the batch's counts to the window: one add per bin.
 * The rows that built a captured reference are not counted in the window.
 */
import type { Logger } from '../observability/logger.js';
import type { BinningPlan } from './binning.js';
import { DriftWindow } from './drift-window.js';
import { scoreTensors, type DriftReport, type DriftState, type TensorScore } from './drift-report.js';
import type { ProfiledTensor } from './profiled-tensors.js';
import { buildReference, rowsKey, type TensorRows } from './reference-builder.js';
import { layoutOf, referenceDigest, type ReferenceLayout, type ReferenceProfile } from './reference-profile.js';
import type { Thresholds } from './scores.js';

export interface DriftSettings {
  sampleRatio: number;
  referenceRows: number;
  bins: number;
  windowSeconds: number;
  minWindowRows: number;
  thresholds: Thresholds;
}

/** Values a capture may hold (reference_rows × features of every profiled tensor): 64 MB of doubles. */
export const MAX_CAPTURE_VALUES = 8 * 1024 * 1024;

/** A report is recomputed at most this often: scrapes and polls share it. */
const REPORT_TTL_MS = 500;

/** A numeric tensor as it crosses to and from the workers; strings are never profiled. */
interface BatchTensor {
  name: string;
  data: ArrayLike<number> | ArrayLike<bigint> | string[];
}

/** Rows of one batch being captured: their inputs copied before the batch ran. */
export class Capture {
  readonly outputs = new Map<string, Float64Array>();
  constructor(
    readonly rows: number,
    readonly inputs: Map<string, Float64Array>,
    /** The monitor's epoch when taken: rows taken before a stop or a new reference are not kept. */
    readonly epoch: number,
  ) {}
}

/** The first `rows` rows of a tensor of `width` columns, as doubles. */
function copyRows(data: BatchTensor['data'], rows: number, width: number): Float64Array {
  const out = new Float64Array(rows * width);
  for (let i = 0; i < out.length; i++) out[i] = Number(data[i]);
  return out;
}

export class DriftMonitor {
  private state: DriftState;
  private reference: ReferenceProfile | undefined;
  /** referenceDigest of the reference: a drift_reference.json saying the same changes nothing. */
  private digest: string | undefined;
  private layout: ReferenceLayout | undefined;
  private window: DriftWindow | undefined;
  /** Captured rows so far, per tensor (an output and its argmax share one). */
  private readonly captured = new Map<string, TensorRows>();
  private capturedRows = 0;
  /** Rows taken by batches still running. */
  private pendingRows = 0;
  private cached: { at: number; report: DriftReport } | undefined;
  /**
   * Bumped whenever what is being captured is dropped (stop, a new reference): a capture taken or a
   * reference built before it is thrown away when it comes back.
   */
  private epoch = 0;
  private stopped = false;
  /** The capture's build while it runs, for tests and for whoever must know it has settled. */
  building: Promise<void> | undefined;

  constructor(
    readonly model: string,
    readonly version: string,
    readonly tensors: readonly ProfiledTensor[],
    readonly settings: DriftSettings,
    loaded: ReferenceProfile | undefined,
    /** Sends the plan to every worker of the version, and to those that start later; their counts come back to onCounts. */
    private readonly sendPlan: (plan: BinningPlan | undefined, onCounts: (counts: Uint32Array) => void) => void,
    private readonly log: Logger,
    /** Monotonic: the window's sub-windows and the report's cache must not follow a wall clock that is set back. */
    private readonly now: () => number = () => performance.now(),
  ) {
    if (loaded) {
      this.state = 'ready';
      this.useReference(loaded);
      return;
    }
    this.state = 'capturing';
    this.startCapture();
  }

  /** Buffers for the next reference_rows rows; throws when they would be too large to hold. */
  private startCapture(): void {
    const { referenceRows } = this.settings;
    const values = referenceRows * this.tensors.filter((t) => t.kind !== 'output_class').reduce((sum, t) => sum + t.width, 0);
    if (values > MAX_CAPTURE_VALUES) {
      throw new Error(
        `drift.reference_rows ${referenceRows} × ${values / referenceRows} features is more than ${MAX_CAPTURE_VALUES} values to capture: lower reference_rows, or profile a reference with brisk drift profile`,
      );
    }
    this.captured.clear();
    for (const t of this.tensors) {
      if (t.kind === 'output_class') continue;
      this.captured.set(rowsKey(t), { data: new Float64Array(referenceRows * t.width), rows: 0 });
    }
    this.capturedRows = 0;
    this.pendingRows = 0;
    this.state = 'capturing';
  }

  /**
   * Drops the reference and the window and captures a new reference from the next
   * reference_rows rows served (the traffic now is what is normal): the workers stop
   * counting until it is built. Throws, changing nothing, when the capture would be too large.
   */
  recapture(): void {
    if (this.stopped) return;
    this.startCapture();
    this.epoch += 1;
    this.reference = undefined;
    this.digest = undefined;
    this.layout = undefined;
    this.window = undefined;
    this.cached = undefined;
    this.sendPlan(undefined, () => undefined);
  }

  private useReference(reference: ReferenceProfile): void {
    this.reference = reference;
    this.digest = referenceDigest(reference);
    this.layout = layoutOf(reference, this.tensors, this.settings.sampleRatio);
    this.window = new DriftWindow(this.layout.plan.bins + 1, this.settings.windowSeconds, this.now);
    this.state = 'ready';
    this.sendPlan(this.layout.plan, (counts) => this.addCounts(counts));
  }

  /** A worker's counts since its last (about a second's batches): into the window, one add per bin. */
  addCounts(counts: Uint32Array): void {
    if (this.window !== undefined && counts.length === this.window.size) this.window.add(counts);
  }

  /** Whether batches should hand over rows for the reference. */
  get capturing(): boolean {
    return !this.stopped && this.state === 'capturing' && this.capturedRows + this.pendingRows < this.settings.referenceRows;
  }

  /** Copies the inputs of the rows this batch gives the reference, before its buffers move to a worker. */
  takeRows(inputs: readonly BatchTensor[], rows: number): Capture | undefined {
    if (!this.capturing) return undefined;
    const take = Math.min(rows, this.settings.referenceRows - this.capturedRows - this.pendingRows);
    const copies = new Map<string, Float64Array>();
    for (const t of this.tensors) {
      if (t.source !== 'input') continue;
      const input = inputs.find((i) => i.name === t.name);
      if (!input || input.data.length < take * t.width) return undefined;
      copies.set(t.name, copyRows(input.data, take, t.width));
    }
    this.pendingRows += take;
    return new Capture(take, copies, this.epoch);
  }

  /**
   * A batch that gave rows to the reference has run: the outputs of those rows join them.
   * Outputs missing (a request that named only some) leave its captured rows out.
   */
  batchDone(capture: Capture, outputs: readonly BatchTensor[]): void {
    if (this.stopped || capture.epoch !== this.epoch) return;
    this.pendingRows -= capture.rows;
    for (const t of this.tensors) {
      if (t.source !== 'output' || t.kind === 'output_class') continue;
      const output = outputs.find((o) => o.name === t.name);
      if (!output || output.data.length < capture.rows * t.width) return;
      capture.outputs.set(t.name, copyRows(output.data, capture.rows, t.width));
    }
    const at = this.capturedRows;
    for (const t of this.tensors) {
      if (t.kind === 'output_class') continue;
      const store = this.captured.get(rowsKey(t))!;
      store.data.set((t.source === 'input' ? capture.inputs : capture.outputs).get(t.name)!, at * t.width);
      store.rows = at + capture.rows;
    }
    this.capturedRows = at + capture.rows;
    if (this.capturedRows >= this.settings.referenceRows) this.build();
  }

  /** A batch that failed gives its rows back. */
  batchFailed(capture: Capture | undefined): void {
    if (capture && capture.epoch === this.epoch) this.pendingRows -= capture.rows;
  }

  /**
   * The version is unloading or replaced: a capture still running is dropped, and a build
   * that finishes later neither sends its plan to the (closing) pool nor logs a reference
   * for a version that is gone.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.epoch += 1;
    this.captured.clear();
    this.pendingRows = 0;
  }

  private build(): void {
    const started = performance.now();
    const epoch = this.epoch;
    this.state = 'ready';
    this.building = buildReference(this.tensors, this.captured, { model: this.model, version: this.version, bins: this.settings.bins, source: 'captured' }).then(
      (reference) => {
        this.building = undefined;
        if (epoch !== this.epoch) return;
        this.captured.clear();
        this.useReference(reference);
        this.log.info(
          { model: this.model, version: this.version, referenceRows: reference.reference_rows, buildSeconds: (performance.now() - started) / 1000 },
          'drift reference captured',
        );
      },
      (error: unknown) => {
        this.building = undefined;
        if (epoch === this.epoch) this.log.error({ model: this.model, version: this.version, err: error }, 'drift reference could not be built');
      },
    );
  }

  /** Whether `profile` is the reference in use, as a file written from it would be. */
  uses(profile: ReferenceProfile): boolean {
    return this.digest !== undefined && this.digest === referenceDigest(profile);
  }

  /**
   * A new reference from now on (a drift_reference.json that changed under a serving version):
   * a capture under way is dropped, the window starts empty, and the workers count with the
   * new plan; counts made with the old one are dropped on the way (ModelPool.setDriftPlan).
   */
  replaceReference(profile: ReferenceProfile): void {
    if (this.stopped) return;
    this.epoch += 1;
    this.captured.clear();
    this.capturedRows = 0;
    this.pendingRows = 0;
    this.cached = undefined;
    this.useReference(profile);
  }

  /** The captured or loaded reference, in the drift_reference.json format; undefined until there is one. */
  referenceProfile(): ReferenceProfile | undefined {
    return this.reference;
  }

  report(): DriftReport {
    const now = this.now();
    // A clock that went back (an injected one) must not keep a stale report.
    if (this.cached && now >= this.cached.at && now - this.cached.at < REPORT_TTL_MS) return this.cached.report;
    const { reference, layout, window } = this;
    let tensors: TensorScore[] = [];
    let windowRows = 0;
    if (reference && layout && window) {
      const current = window.sum();
      windowRows = current[current.length - 1]!;
      tensors = scoreTensors(reference, layout, current, windowRows, this.settings.minWindowRows, this.settings.thresholds);
    }
    const report: DriftReport = {
      model: this.model,
      version: this.version,
      // Building counts as capturing: there is no reference to score against yet.
      state: reference ? 'ready' : 'capturing',
      reference_rows: reference ? reference.reference_rows : this.capturedRows,
      window_rows: windowRows,
      window_seconds: this.settings.windowSeconds,
      tensors,
    };
    this.cached = { at: now, report };
    return report;
  }
}
