/**
 * Triton's model repository extension over REST, the same on the data port and the
 * admin port (`POST /v2/repository/index` is each server's own: open on the data port):
 *   POST /v2/repository/models/{model}/load     body optional: {"parameters": {"config": "<config.json text>"}}
 *   POST /v2/repository/models/{model}/unload   body optional; its parameters are ignored
 * 200 with an empty body once done, as Triton answers; {"error": "..."} otherwise.
 * Parses and renders only: RepositoryControl decides who may, the core does the work.
 */
import { invalidArgument } from '../errors.js';
import { refuseFileParameters, type ControlVia, type RepositoryControl } from '../admin/repository-control.js';
import type { InferenceService } from '../inference/service.js';
import { readBody } from './body.js';
import { BodyDeadlines } from './body-deadlines.js';
import { finish, send, sendError, sendJson, type ResponseState } from './respond.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from './uws.js';

/** A config.json is a few kilobytes; a megabyte leaves room without inviting large bodies. */
export const MAX_REPOSITORY_BODY = 1024 * 1024;
/** The body is small: a client that takes longer than this is holding the connection. */
const BODY_DEADLINES = new BodyDeadlines(30_000);

export interface RepositoryRouteOptions {
  via: Extract<ControlVia, 'admin' | 'rest'>;
  /** A response state from the server's own bookkeeping (the data port's drain sees every response). */
  begin(): ResponseState;
  /** The caller's token name, or throws; called before the body is read. By default the data ports' rule (RepositoryControl.authorize). */
  identify?(req: HttpRequest): string;
  /** By default MAX_REPOSITORY_BODY. */
  maxBodyBytes?: number;
}

const describe = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The body as a JSON object, or an empty one for an empty body. */
function parseObjectBody(body: Buffer): Record<string, unknown> {
  const text = body.toString('utf8');
  if (text.trim() === '') return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalidArgument('body is not valid JSON');
  }
  if (!isObject(raw)) throw invalidArgument(`body must be a JSON object, not ${describe(raw)}`);
  return raw;
}

/** The body's `parameters`, or an empty object for an empty body. Unknown parameters are ignored, as Triton does. */
export function parseRepositoryParameters(body: Buffer): Record<string, unknown> {
  const parameters = parseObjectBody(body)['parameters'];
  if (parameters === undefined) return {};
  if (!isObject(parameters)) throw invalidArgument(`parameters must be an object, not ${describe(parameters)}`);
  return parameters;
}

/** The config text a load body carries in `parameters.config`, if any. */
export function parseLoadBody(body: Buffer): string | undefined {
  const parameters = parseRepositoryParameters(body);
  refuseFileParameters(Object.keys(parameters));
  // Own properties only: a JSON key like "__proto__" must not reach the prototype.
  const config = Object.hasOwn(parameters, 'config') ? parameters['config'] : undefined;
  if (config !== undefined && typeof config !== 'string') {
    throw invalidArgument(`parameters.config must be a string holding the config.json text, not ${describe(config)}`);
  }
  return config;
}

/** Triton's index body: optional `{"ready": true}` lists only the versions that are READY. */
export function parseIndexBody(body: Buffer): { ready: boolean } {
  const ready = parseObjectBody(body)['ready'] ?? false;
  if (typeof ready !== 'boolean') throw invalidArgument(`ready must be true or false, not ${describe(ready)}`);
  return { ready };
}

/** Answers `POST /v2/repository/index` (whoever may ask has been checked): reads the body, then the index. */
export function answerIndex(res: HttpResponse, state: ResponseState, contentLength: string, service: Pick<InferenceService, 'repositoryIndex'>): void {
  readBody(
    res,
    contentLength,
    MAX_REPOSITORY_BODY,
    (body) => {
      try {
        const { ready } = parseIndexBody(body);
        const entries = service.repositoryIndex();
        sendJson(res, state, '200 OK', ready ? entries.filter((e) => e.state === 'READY') : entries);
      } catch (error) {
        sendError(res, state, error);
      }
    },
    (error) => sendError(res, state, error, true),
    BODY_DEADLINES,
  );
}

export function addRepositoryRoutes(app: TemplatedApp, control: RepositoryControl, options: RepositoryRouteOptions): void {
  const route =
    (action: 'load' | 'unload') =>
    (res: HttpResponse, req: HttpRequest): void => {
      const state = options.begin();
      res.onAborted(() => finish(state));
      // uWS request objects die when this function returns: copy what is needed now.
      const model = req.getParameter(0) ?? '';
      const contentLength = req.getHeader('content-length');
      let token: string;
      try {
        token = options.identify ? options.identify(req) : control.authorize(req.getHeader('authorization'));
      } catch (error) {
        // Refused before the body was read: answer and close the connection.
        sendError(res, state, error, true);
        return;
      }
      readBody(
        res,
        contentLength,
        options.maxBodyBytes ?? MAX_REPOSITORY_BODY,
        (body) => {
          let done: Promise<void>;
          try {
            if (action === 'load') {
              done = control.load(model, parseLoadBody(body), token, options.via);
            } else {
              parseRepositoryParameters(body);
              done = control.unload(model, token, options.via);
            }
          } catch (error) {
            sendError(res, state, error);
            return;
          }
          done.then(
            () => send(res, state, '200 OK', ''),
            (error: unknown) => sendError(res, state, error),
          );
        },
        (error) => sendError(res, state, error, true),
        BODY_DEADLINES,
      );
    };
  app.post('/v2/repository/models/:model/load', route('load'));
  app.post('/v2/repository/models/:model/unload', route('unload'));
}
