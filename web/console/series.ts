/**
 * The charts' 15 minutes of data, kept in the page: the server sends the whole
 * series once, then each poll brings only the latest sample, appended here. A gap
 * (a tab asleep, a lost poll) asks for the whole series again.
 */
import type { ConsoleDocument } from './api.js';

const store = new Map<string, (number | null)[][]>();
let needFull = true;

/** After a sign-in: start from the whole series. */
export function resetSeries(): void {
  store.clear();
  needFull = true;
}

/** Whether the next poll should ask for the whole series. */
export const wantFullSeries = (): boolean => needFull;

export function mergeSeries(doc: ConsoleDocument, full: boolean): void {
  const { series_columns: columns, sample_interval_ms: step, series_seconds: seconds } = doc.state;
  const capacity = (seconds * 1000) / step;
  const seen = new Set<string>();
  needFull = false;
  for (const m of doc.state.models) {
    for (const v of m.versions) {
      const key = `${m.name}/${v.version}`;
      seen.add(key);
      if (full) {
        store.set(key, v.series ?? columns.map(() => []));
      } else {
        const kept = store.get(key);
        const live = v.live;
        const lastT = kept?.[0]?.at(-1);
        if (!kept || (live && lastT !== undefined && lastT !== null && live.t !== null && live.t - lastT > 2.5 * step)) needFull = true;
        if (kept && live && live.t !== null && (lastT === undefined || lastT === null || live.t > lastT)) {
          columns.forEach((c, i) => {
            const column = kept[i]!;
            column.push(live[c as keyof typeof live] ?? null);
            if (column.length > capacity) column.splice(0, column.length - capacity);
          });
        }
      }
      v.series = store.get(key) ?? null;
    }
  }
  for (const key of store.keys()) if (!seen.has(key)) store.delete(key);
}
