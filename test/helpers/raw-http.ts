/** HTTP/1.1 on a raw socket: for clients no library would be, such as one that never reads or never finishes a body. */
import { connect, type Socket } from 'node:net';

/** A request's head, ready to write: the request line, the headers and the blank line. */
export function requestHead(method: string, path: string, headers: Record<string, string>): string {
  return [`${method} ${path} HTTP/1.1`, 'Host: x', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
}

/** Sends `head` and `body` on a new connection and resolves with the status line of the answer. */
export function statusLine(port: number, head: string, body: string | Buffer = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n');
      if (end >= 0) {
        resolve(received.slice(0, end));
        socket.destroy();
      }
    });
    socket.on('error', reject);
    socket.write(head);
    socket.write(body);
  });
}

/** Sends a request and reads nothing of the answer until the caller resumes the socket. */
export function slowReader(port: number, head: string, body: Buffer): { socket: Socket; closed: Promise<void>; received: () => number } {
  const socket = connect(port, '127.0.0.1');
  socket.pause();
  let received = 0;
  socket.on('data', (chunk: Buffer) => (received += chunk.length));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write(head);
  socket.write(body);
  return { socket, closed, received: () => received };
}
