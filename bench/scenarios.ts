/**
 * The baseline scenarios: a request body per model, as clients send them.
 * tiny_classifier over JSON (what a simple client sends), heavy_mlp over the
 * binary tensor extension (what tritonclient sends).
 */
export interface Scenario {
  name: string;
  model: string;
  inputName: string;
  rowSize: number;
  encoding: 'json' | 'binary';
}

export const SCENARIOS: Record<string, Scenario> = {
  tiny: { name: 'tiny_classifier, JSON', model: 'tiny_classifier', inputName: 'input', rowSize: 64, encoding: 'json' },
  heavy: { name: 'heavy_mlp, binary', model: 'heavy_mlp', inputName: 'input', rowSize: 512, encoding: 'binary' },
};

/** One row of deterministic values, encoded as the scenario's clients would. */
export function requestBody(scenario: Scenario): { body: Buffer; headers: Record<string, string> } {
  const values = Float32Array.from({ length: scenario.rowSize }, (_, i) => Math.sin(i) * 0.5);
  if (scenario.encoding === 'json') {
    const body = JSON.stringify({
      inputs: [{ name: scenario.inputName, datatype: 'FP32', shape: [1, scenario.rowSize], data: Array.from(values) }],
    });
    return { body: Buffer.from(body), headers: { 'content-type': 'application/json' } };
  }
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: scenario.inputName, datatype: 'FP32', shape: [1, scenario.rowSize], parameters: { binary_data_size: values.byteLength } }],
      parameters: { binary_data_output: true },
    }),
  );
  return {
    body: Buffer.concat([header, Buffer.from(values.buffer)]),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
  };
}
