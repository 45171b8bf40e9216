/** Calls to a server's admin port with its bearer token, timed; the repository index read. */

export interface AdminAnswer {
  status: number;
  text: string;
  ms: number;
}

export interface IndexEntry {
  name: string;
  version?: string;
  state: string;
  reason?: string;
}

export class AdminClient {
  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  async call(method: string, path: string, body?: unknown): Promise<AdminAnswer> {
    const started = performance.now();
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, text, ms: performance.now() - started };
  }

  /** A model's load, with a config in place of its config.json when one is given. */
  load(model: string, config?: unknown): Promise<AdminAnswer> {
    return this.call('POST', `/v2/repository/models/${model}/load`, config === undefined ? undefined : { parameters: { config: JSON.stringify(config) } });
  }

  unload(model: string): Promise<AdminAnswer> {
    return this.call('POST', `/v2/repository/models/${model}/unload`);
  }

  async entry(model: string, version: string): Promise<IndexEntry | undefined> {
    const answer = await this.call('POST', '/v2/repository/index');
    if (answer.status !== 200) throw new Error(`POST /v2/repository/index: ${answer.status} ${answer.text}`);
    return (JSON.parse(answer.text) as IndexEntry[]).find((e) => e.name === model && e.version === version);
  }

  /** Polls the index until the entry passes `check`; the last entry seen and the time taken. */
  async waitFor(model: string, version: string, check: (e: IndexEntry | undefined) => boolean, timeoutMs: number): Promise<{ entry: IndexEntry | undefined; ms: number; ok: boolean }> {
    const started = performance.now();
    for (;;) {
      const entry = await this.entry(model, version);
      const ms = performance.now() - started;
      if (check(entry)) return { entry, ms, ok: true };
      if (ms > timeoutMs) return { entry, ms, ok: false };
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
