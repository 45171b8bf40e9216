/**
 * A Prometheus counter whose series are plain numbers held by the code that
 * counts (see version-recorder.ts): counting is `cell.value += n`, with no label
 * object hashed per call as prom-client's `counter.labels(...).inc()` does.
 * prom-client stays the exposition: at scrape, collect() copies the cells into a
 * prom-client Counter, so name, help, label order and format are its own.
 */
import { Counter, type Registry } from 'prom-client';
import { labelObject } from './series-labels.js';

/** One series. Its owner only ever adds to `value` (finite and not negative). */
export class CounterCell {
  value = 0;
  constructor(readonly labels: Readonly<Record<string, string>>) {}
}

export interface CounterFamilyConfig {
  name: string;
  help: string;
  labelNames: readonly string[];
}

export class CounterFamily {
  /** In the order they were made: prom-client lists a series from its first increment, and owners make a cell just before that. */
  private readonly cells: CounterCell[] = [];
  private readonly labelNames: readonly string[];

  constructor(registry: Registry, config: CounterFamilyConfig) {
    this.labelNames = [...config.labelNames];
    const cells = this.cells;
    new Counter({
      ...config,
      registers: [registry],
      collect() {
        // The cells are the truth; the Counter only renders them (and forgets them again at the next scrape).
        this.reset();
        for (const cell of cells) this.inc(cell.labels, cell.value);
      },
    });
  }

  /** A new series with these label values, in labelNames order. The caller keeps it: a second call makes a duplicate. */
  newCell(values: readonly string[]): CounterCell {
    const cell = new CounterCell(labelObject(this.labelNames, values));
    this.cells.push(cell);
    return cell;
  }
}
