/**
 * uWebSockets.js, required to be the native build. The republished package
 * falls back to a pure-JS emulation when its binary does not load for this
 * Node.js; that would serve, but many times slower, so it stops the start.
 */
import { createRequire } from 'node:module';
import type * as Uws from 'uWebSockets.js';

const require = createRequire(import.meta.url);

function loadNative(): typeof Uws {
  // The package logs its own warning and switches to the emulation on this variable.
  if (process.env['UWS_USE_FALLBACK']) {
    throw new Error('UWS_USE_FALLBACK is set: the server runs only on the native uWebSockets.js binary');
  }
  const uws = require('uWebSockets.js') as typeof Uws;
  // Native functions print as "[native code]"; the emulation's are JavaScript.
  if (!String(uws.App).includes('[native code]')) {
    throw new Error(
      `uWebSockets.js loaded its JavaScript fallback, not the native binary for Node.js ${process.version} ` +
        `(ABI ${process.versions.modules}, ${process.platform}-${process.arch}); refusing to serve slowly. ` +
        'Use a Node.js version the pinned uWebSockets.js build supports (see README).',
    );
  }
  return uws;
}

export const uws = loadNative();
export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
