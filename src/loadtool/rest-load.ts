/** REST requests for the bench tool's load loop, over keep-alive connections (node:http). */
import { Agent, request } from 'node:http';
import { runLoop, type LoopOptions, type RawLoadResult } from './load-loop.js';

export interface RestLoadOptions extends LoopOptions {
  url: URL;
  body: Buffer;
  headers: Record<string, string>;
  /** Connections to use; the open loop queues requests on them when all are busy. */
  connections: number;
}

export async function runRestLoad(options: RestLoadOptions): Promise<RawLoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const headers = { ...options.headers, 'content-length': options.body.length };
  try {
    return await runLoop((done) => {
      const req = request(
        { host: options.url.hostname, port: options.url.port, path: options.url.pathname, method: 'POST', agent, headers },
        (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          res.on('end', () => done(String(status), status >= 200 && status < 300 ? 'success' : 'error'));
        },
      );
      req.on('error', (error: NodeJS.ErrnoException) => done(error.code ?? 'error', 'none'));
      req.end(options.body);
    }, options);
  } finally {
    agent.destroy();
  }
}
