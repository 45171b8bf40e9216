/** The operator console of a test server: signing in over plain HTTP, and changes made the way its page makes them. */
import net from 'node:net';
import { request, type HttpAnswer, type TestServer } from './server.js';

export function adminPort(server: TestServer): number {
  return server.logs.find((l) => l['msg'] === 'serving')!['adminPort'] as number;
}

export const consoleOrigin = (server: TestServer): string => `http://127.0.0.1:${adminPort(server)}`;

export interface ConsoleSession {
  cookie: string;
  csrf: string;
  setCookie: string;
}

export async function signIn(server: TestServer, token: string, headers: Record<string, string> = {}): Promise<{ answer: HttpAnswer; session?: ConsoleSession }> {
  const answer = await request(`${consoleOrigin(server)}/console/api/session`, {
    method: 'POST',
    headers: { origin: consoleOrigin(server), 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ token }),
  });
  if (answer.status !== 200) return { answer };
  const setCookie = answer.headers.get('set-cookie') ?? '';
  return { answer, session: { cookie: setCookie.split(';')[0]!, csrf: answer.json<{ csrf: string }>().csrf, setCookie } };
}

/** A call as the console page makes it: cookie, CSRF token and this origin, each of which `override` may change or drop (undefined). */
export function consoleCall(server: TestServer, session: ConsoleSession, method: string, path: string, body?: unknown, override: Record<string, string | undefined> = {}): Promise<HttpAnswer> {
  const headers: Record<string, string | undefined> = { origin: consoleOrigin(server), cookie: session.cookie, 'x-csrf-token': session.csrf, 'content-type': 'application/json', ...override };
  const init: RequestInit = { method, headers: Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined)) };
  if (body !== undefined) init.body = JSON.stringify(body);
  return request(`${consoleOrigin(server)}${path}`, init);
}

/**
 * Sign-ins on connections of their own, all headers sent and seen by the server (a later
 * request on another connection has been answered) before any body: the statuses, in order.
 */
export async function concurrentSignIns(server: TestServer, tokens: readonly string[]): Promise<number[]> {
  const port = adminPort(server);
  const sockets = await Promise.all(tokens.map(() => new Promise<net.Socket>((resolve, reject) => net.connect(port, '127.0.0.1').once('connect', function (this: net.Socket) { resolve(this); }).once('error', reject))));
  const statuses = sockets.map(
    (socket) =>
      new Promise<number>((resolve, reject) => {
        let head = '';
        socket.on('data', (chunk: Buffer) => {
          head += chunk.toString('latin1');
          const status = /^HTTP\/1\.1 (\d{3})/.exec(head);
          if (status) resolve(Number(status[1]));
        });
        socket.once('error', reject);
        socket.once('close', () => reject(new Error(`connection closed before a status: ${JSON.stringify(head)}`)));
      }),
  );
  const bodies = tokens.map((token) => JSON.stringify({ token }));
  sockets.forEach((socket, i) =>
    socket.write(`POST /console/api/session HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${consoleOrigin(server)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(bodies[i]!)}\r\n\r\n`),
  );
  await request(`${consoleOrigin(server)}/console/`);
  sockets.forEach((socket, i) => socket.write(bodies[i]!));
  try {
    return await Promise.all(statuses);
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}
