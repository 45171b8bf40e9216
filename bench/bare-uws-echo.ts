/**
 * The I/O floor for REST: a bare uWebSockets.js server that answers every POST
 * with its own body and content type. It pays what any server on this transport
 * pays per request (read, parse the HTTP head, take the body, write the answer)
 * and nothing else: no routing of models, no JSON, no queue, no worker.
 *
 * node dist/bench/bare-uws-echo.js [port]
 */
import { uws, type HttpResponse } from '../src/http/uws.js';

const app = uws.App();

app.post('/*', (res: HttpResponse, req) => {
  // The request object is gone once this handler returns: read what the answer needs now.
  const contentType = req.getHeader('content-type') || 'application/octet-stream';
  let aborted = false;
  let chunks: Buffer[] | undefined;
  res.onAborted(() => (aborted = true));
  res.onData((chunk, isLast) => {
    if (aborted) return;
    if (!isLast) {
      // A chunk's memory is uWS's own and reused after this callback: keep a copy.
      (chunks ??= []).push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
      return;
    }
    // A body in one chunk (the usual case) is written straight from uWS's memory.
    const body = chunks ? Buffer.concat([...chunks, new Uint8Array(chunk)]) : chunk;
    res.writeHeader('content-type', contentType).end(body);
  });
});

app.listen('127.0.0.1', Number(process.argv[2] ?? 0), (socket) => {
  if (!socket) {
    console.error('bare-uws-echo: cannot listen');
    process.exit(1);
  }
  console.log(JSON.stringify({ msg: 'serving', httpPort: uws.us_socket_local_port(socket) }));
});
process.on('SIGTERM', () => process.exit(0));
