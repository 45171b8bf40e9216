/** The admin API of a test server: where it listens, and calls made with a bearer token. */
import { request, type HttpAnswer, type TestServer } from './server.js';

/** A token for ADMIN_TOKEN: the admin API starts only with one. */
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

/** Calls `method path` on the admin port of `server` (as it was started), JSON body and all. */
export function adminClient(server: TestServer, token = TEST_ADMIN_TOKEN) {
  const port = server.logs.find((l) => l['msg'] === 'serving')!['adminPort'] as number;
  return (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> => {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${token}`, ...headers } };
    if (body !== undefined) init.body = JSON.stringify(body);
    return request(`http://127.0.0.1:${port}${path}`, init);
  };
}
