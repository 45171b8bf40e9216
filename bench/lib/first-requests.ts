/**
 * The latency of a model's first requests, one after the other, on a keep-alive
 * connection opened beforehand (by its readiness check), so that connecting is
 * not part of the first figure.
 */
import { Agent, request } from 'node:http';

function exchange(agent: Agent, url: URL, method: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, method, agent, headers: body ? { ...headers, 'content-length': body.length } : headers },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Milliseconds for each of `count` requests to `{base}/v2/models/{model}/infer`; any answer but 200 throws. */
export async function firstRequestsMs(base: string, model: string, body: Buffer, headers: Record<string, string>, count: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const ready = await exchange(agent, new URL(`${base}/v2/models/${model}/ready`), 'GET');
    if (ready.status !== 200) throw new Error(`${model} is not ready after its load: ${ready.status} ${ready.text}`);
    const infer = new URL(`${base}/v2/models/${model}/infer`);
    const latencies: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const answer = await exchange(agent, infer, 'POST', body, headers);
      latencies.push(performance.now() - started);
      if (answer.status !== 200) throw new Error(`${model} request ${i + 1}: ${answer.status} ${answer.text.slice(0, 300)}`);
    }
    return latencies;
  } finally {
    agent.destroy();
  }
}
