/**
 * Model loads and unloads asked for over any port: who may ask, and the log line
 * that records who did. On the data ports (REST and gRPC) a load needs an admin
 * token, and with no token configured repository control is off rather than open:
 * an unauthenticated model-load API is how TorchServe servers were taken over
 * (ShellTorch, CVE-2023-43654). The admin port checks tokens its own way.
 */
import { invalidArgument, ServingError, toServingError } from '../errors.js';
import type { InferenceService } from '../inference/service.js';
import type { Logger } from '../observability/logger.js';
import { authenticate, type AdminToken } from './tokens.js';

/** The port a change came in on, for the log. */
export type ControlVia = 'admin' | 'rest' | 'grpc';

/**
 * Triton's `file:<path>` load parameters carry model files in the request. Ignoring
 * them would load the repository's files in place of the ones sent, so they are refused.
 */
export function refuseFileParameters(names: Iterable<string>): void {
  for (const name of names) {
    if (name.startsWith('file:')) {
      throw invalidArgument(`parameter ${JSON.stringify(name.slice(0, 64))}: model files cannot be sent with a load; put them in the model repository`);
    }
  }
}

export class RepositoryControl {
  constructor(
    private readonly service: InferenceService,
    private readonly tokens: readonly AdminToken[],
    private readonly log: Logger,
  ) {}

  /** The name of the token in an `Authorization: Bearer …` value; throws FORBIDDEN when no token is configured, UNAUTHENTICATED when it does not match. */
  authorize(authorization: string): string {
    if (this.tokens.length === 0) {
      throw new ServingError('FORBIDDEN', 'repository control is disabled: the server has no admin token (ADMIN_TOKEN or --admin-token-file)');
    }
    const name = authenticate(authorization, this.tokens);
    if (name === undefined) throw new ServingError('UNAUTHENTICATED', 'missing or wrong bearer token');
    return name;
  }

  /** Loads or reloads a model; `configText` replaces its config.json for this load. */
  load(model: string, configText: string | undefined, token: string, via: ControlVia): Promise<void> {
    return this.logged({ action: 'load', model, token, via, configGiven: configText !== undefined }, () => this.service.loadModel(model, configText));
  }

  unload(model: string, token: string, via: ControlVia): Promise<void> {
    return this.logged({ action: 'unload', model, token, via }, () => this.service.unloadModel(model));
  }

  /** Drops a version's drift reference and window, and captures a new one from the rows it serves next. */
  recaptureDrift(model: string, version: string, token: string, via: ControlVia): ReturnType<InferenceService['recaptureDrift']> {
    return this.logged({ action: 'drift-recapture', model, version: version.slice(0, 32), token, via }, () => this.service.recaptureDrift(model, version));
  }

  /** Every change, refused or done, is logged with the token's name, as route changes are. */
  private async logged<T>(
    fields: { action: string; model: string; version?: string; token: string; via: ControlVia; configGiven?: boolean },
    change: () => Promise<T>,
  ): Promise<T> {
    const entry = { ...fields, model: fields.model.slice(0, 128) };
    const started = performance.now();
    let result: T;
    try {
      result = await change();
    } catch (error) {
      const serving = toServingError(error);
      if (!(error instanceof ServingError)) this.log.error({ ...entry, err: error }, 'repository change failed unexpectedly');
      this.log.warn({ ...entry, code: serving.code, reason: serving.message }, 'repository change refused');
      throw error;
    }
    this.log.info({ ...entry, ms: Math.round(performance.now() - started) }, 'repository change');
    return result;
  }
}
