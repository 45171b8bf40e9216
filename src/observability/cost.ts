/**
 * What a thousand inferences cost, from the machine's price per hour. Two views:
 *
 * - compute: the machine time a model's own computation took. A core-second of
 *   ONNX Runtime work is 1/cores of a machine-second:
 *     compute_per_1k = price_per_hour / 3600 × (busy_core_seconds / cores) / (inferences / 1000)
 * - allocated: all the machine time since start, shared among models by their
 *   share of the computation, so idle capacity shows up as cost:
 *     allocated_per_1k = price_per_hour / 3600 × elapsed_seconds × (busy_core_seconds / Σ busy_core_seconds) / (inferences / 1000)
 *
 * Undefined for a model with no inferences yet.
 */
export interface CostInputs {
  pricePerHour: number;
  elapsedSeconds: number;
  cores: number;
  models: readonly { key: string; busyCoreSeconds: number; inferences: number }[];
}

export interface CostPer1k {
  key: string;
  compute: number;
  allocated: number;
}

export function costPer1k(inputs: CostInputs): CostPer1k[] {
  const perSecond = inputs.pricePerHour / 3600;
  const totalBusy = inputs.models.reduce((sum, m) => sum + m.busyCoreSeconds, 0);
  return inputs.models
    .filter((m) => m.inferences > 0)
    .map((m) => {
      const thousands = m.inferences / 1000;
      const share = totalBusy > 0 ? m.busyCoreSeconds / totalBusy : 0;
      return {
        key: m.key,
        compute: (perSecond * (m.busyCoreSeconds / inputs.cores)) / thousands,
        allocated: (perSecond * inputs.elapsedSeconds * share) / thousands,
      };
    });
}
