/**
 * The Open Inference Protocol over REST on uWebSockets.js. Parses and renders;
 * every decision is the InferenceService's.
 */
import { RepositoryControl } from '../admin/repository-control.js';
import type { AdminToken } from '../admin/tokens.js';
import { ServingError } from '../errors.js';
import { decodedTensorBytes, type ByteBudget } from '../inference/byte-budget.js';
import type { Admission, InferCallback, InferenceService } from '../inference/service.js';
import { Cancellation } from '../types.js';
import type { Logger } from '../observability/logger.js';
import { readBody } from './body.js';
import { BodyDeadlines } from './body-deadlines.js';
import { ConnectionDrain } from './connection-drain.js';
import { decodeInferRequest, estimateDecodedBytes } from './infer-request.js';
import { encodeInferResponse } from './infer-response.js';
import { addRepositoryRoutes, answerIndex } from './repository-routes.js';
import { finish, send, sendError, sendJson, type ResponseState } from './respond.js';
import { statsJson } from './stats-json.js';
import { uws, type HttpRequest, type HttpResponse, type us_listen_socket } from './uws.js';

export interface HttpServerOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  /** The Prometheus exposition for GET /metrics. */
  renderMetrics?: () => Promise<{ contentType: string; body: string }>;
  /** Bytes of requests held at once, shared with the other protocols. */
  budget: ByteBudget;
  /** Longest a client may take to send a body. */
  bodyTimeoutMs: number;
  /** Tokens for repository loads and unloads; with none, they are refused (403). */
  adminTokens: readonly AdminToken[];
}

export interface RunningHttpServer {
  port: number;
  /**
   * Stops accepting connections; from then on every response closes its connection.
   * Resolves once the connections left open may be dropped, or at the deadline (a
   * performance.now() time): true if every response had ended by then.
   */
  close(deadline: number): Promise<boolean>;
  /** Responses begun and not yet ended: requests that came after the quiet period are answered too. */
  openResponses(): number;
}

const OK = '200 OK';

/** The body of a request refused before it was read: discarded as it arrives. */
const ignoreChunk = (): void => undefined;

type ModelRoute = (res: HttpResponse, state: ResponseState, model: string, version: string | undefined) => void;

export function startHttpServer(service: InferenceService, options: HttpServerOptions, log: Logger): Promise<RunningHttpServer> {
  const app = uws.App();
  // Every handler takes its response state from here, so that shutdown sees every response.
  const drain = new ConnectionDrain();

  /** A GET route with the model name (and version) taken from the path; errors become error responses. */
  const modelGet = (suffix: string, handler: ModelRoute): void => {
    const wrap =
      (versioned: boolean) =>
      (res: HttpResponse, req: HttpRequest): void => {
        const state = drain.begin();
        res.onAborted(() => finish(state));
        try {
          handler(res, state, req.getParameter(0) ?? '', versioned ? req.getParameter(1) ?? '' : undefined);
        } catch (error) {
          sendError(res, state, error);
        }
      };
    app.get(`/v2/models/:model${suffix}`, wrap(false));
    app.get(`/v2/models/:model/versions/:version${suffix}`, wrap(true));
  };

  app.get('/v2/health/live', (res) => {
    send(res, drain.begin(), OK, '');
  });

  app.get('/v2/health/ready', (res) => {
    const state = drain.begin();
    const report = service.readiness();
    if (report.ready) send(res, state, OK, '');
    else sendJson(res, state, '503 Service Unavailable', { ready: false, draining: report.draining, ...(report.routes === undefined ? {} : { routes: report.routes }), not_ready: report.notReady });
  });

  app.get('/v2', (res) => {
    sendJson(res, drain.begin(), OK, service.serverMetadata());
  });

  const { renderMetrics } = options;
  if (renderMetrics) {
    app.get('/metrics', (res) => {
      const state = drain.begin();
      res.onAborted(() => finish(state));
      renderMetrics().then(
        ({ contentType, body }) => send(res, state, OK, body, contentType),
        (error: unknown) => sendError(res, state, error),
      );
    });
  }

  app.get('/v2/models/stats', (res) => {
    sendJson(res, drain.begin(), OK, statsJson(service.stats()));
  });

  modelGet('', (res, state, model, version) => sendJson(res, state, OK, service.modelMetadata(model, version)));
  modelGet('/ready', (res, state, model, version) => {
    service.checkModelReady(model, version);
    send(res, state, OK, '');
  });
  modelGet('/stats', (res, state, model, version) => sendJson(res, state, OK, statsJson(service.stats(model, version))));
  modelGet('/drift', (res, state, model, version) => sendJson(res, state, OK, service.drift(model, version)));
  modelGet('/drift/reference', (res, state, model, version) => sendJson(res, state, OK, service.driftReference(model, version)));

  app.post('/v2/repository/index', (res, req) => {
    const state = drain.begin();
    res.onAborted(() => finish(state));
    answerIndex(res, state, req.getHeader('content-length'), service);
  });
  addRepositoryRoutes(app, new RepositoryControl(service, options.adminTokens, log), { via: 'rest', begin: () => drain.begin() });

  const bodyDeadlines = options.bodyTimeoutMs > 0 ? new BodyDeadlines(options.bodyTimeoutMs) : undefined;

  const infer = (versioned: boolean) => (res: HttpResponse, req: HttpRequest): void => {
    // uWS request objects die when this function returns: copy what is needed now.
    const modelName = req.getParameter(0) ?? '';
    const modelVersion = versioned ? req.getParameter(1) ?? '' : undefined;
    const headerLength = req.getHeader('inference-header-content-length');
    const contentLength = req.getHeader('content-length');
    const routingKey = req.getHeader('x-routing-key');
    const traceparent = req.getHeader('traceparent');
    // The request's bytes in the budget: its body from before it is read, its decoding, then its
    // answer until the last byte is handed to uWS. Every way a response ends releases them (finish).
    const reservation = options.budget.reserve();
    const state = drain.begin(() => reservation.release());
    const cancellation = new Cancellation();
    let admission: Admission | undefined;
    res.onAborted(() => {
      finish(state);
      service.release(admission);
      cancellation.cancel();
    });
    const declaredLength = /^\d{1,15}$/.test(contentLength) ? Number(contentLength) : undefined;
    /** Answers a request that ends before it is served: counted, and its admission given back. */
    const refuse = (error: unknown, closeConnection = false): void => {
      if (state.finished) return;
      service.refused(admission, 'rest', error);
      sendError(res, state, error, closeConnection);
    };
    // A request refused before its body is read: the body is discarded as it arrives, so the connection
    // stays usable, unless it could be long: then the connection is dropped rather than read to its end.
    const dropUnread = declaredLength === undefined || declaredLength > options.maxBodyBytes;
    try {
      // Unknown, unready and overloaded models (admit counts these).
      admission = service.admit(modelName, modelVersion, routingKey || undefined, 'rest');
      // A chunked body is counted as it arrives (readBody); one over --max-body-bytes is refused there.
      if (declaredLength !== undefined && declaredLength <= options.maxBodyBytes) reservation.grow(declaredLength);
    } catch (error) {
      res.onData(ignoreChunk);
      if (admission) refuse(error, dropUnread);
      else sendError(res, state, error, dropUnread);
      return;
    }
    /** The served request's answer, written unless its client went. */
    const answer: InferCallback = (error, response) => {
      if (state.finished) return;
      if (error) {
        // An error the server did not expect carries what was thrown; clients get only the gist.
        if (error.cause !== undefined) log.error({ err: error.cause, model: modelName }, 'inference failed unexpectedly');
        sendError(res, state, error);
        return;
      }
      try {
        const encoded = encodeInferResponse(response!);
        // The answer counts instead of the request until it is written: a client that does
        // not read holds it, and should hold the budget too.
        reservation.set(encoded.body.length);
        if (response!.servedBy) encoded.headers.push(['x-served-by', response!.servedBy]);
        send(res, state, OK, encoded.body, encoded.contentType, encoded.headers);
      } catch (encodeError) {
        sendError(res, state, encodeError);
      }
    };
    readBody(
      res,
      contentLength,
      options.maxBodyBytes,
      (body) => {
        let request;
        try {
          // Decoding makes a string, a tree and tensors out of the body, several times its size:
          // budgeted before any of it is allocated (see estimateDecodedBytes).
          reservation.grow(estimateDecodedBytes(body, headerLength, reservation.room));
          request = decodeInferRequest(body, { modelName, modelVersion, headerLength });
        } catch (error) {
          refuse(error);
          return;
        }
        // A queued request holds its body and the tensors decoded out of it; the parse's garbage is not counted.
        reservation.set(body.length + decodedTensorBytes(request.inputs, body));
        request.cancellation = cancellation;
        if (routingKey) request.routingKey = routingKey;
        if (traceparent) request.traceparent = traceparent;
        service.serve(request, admission, answer);
      },
      // Refused bodies are not read further: answer and drop the connection.
      (error) => refuse(error, true),
      bodyDeadlines,
      (bytes) => reservation.grow(bytes),
    );
  };
  app.post('/v2/models/:model/infer', infer(false));
  app.post('/v2/models/:model/versions/:version/infer', infer(true));

  app.any('/*', (res, req) => {
    const method = req.getCaseSensitiveMethod?.() ?? req.getMethod().toUpperCase();
    const url = req.getUrl();
    sendError(res, drain.begin(), new ServingError('NOT_FOUND', `no route for ${method} ${url.slice(0, 200)}`));
  });

  return new Promise((resolve, reject) => {
    app.listen(options.host, options.port, (socket: us_listen_socket | false) => {
      if (!socket) {
        reject(new Error(`cannot listen on ${options.host}:${options.port} for HTTP`));
        return;
      }
      const port = uws.us_socket_local_port(socket);
      resolve({
        port,
        close: (deadline) => {
          drain.close();
          uws.us_listen_socket_close(socket);
          return drain.quiet(deadline);
        },
        openResponses: () => drain.openResponses,
      });
    });
  });
}
