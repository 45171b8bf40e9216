/**
 * OpenTelemetry traces. The SDK starts only when the standard OTEL_* variables
 * ask for an exporter (OTEL_TRACES_EXPORTER, or an OTLP endpoint), and reads
 * its settings from them itself. When off, every helper here is one boolean
 * check, so tracing costs next to nothing on the request path.
 *
 * Spans: the server request (continuing a W3C traceparent), the wait in the
 * queue, one span per batch linked to every request in it, shadow executions.
 */
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type ContextManager,
  type Span,
} from '@opentelemetry/api';
import { NodeSDK, tracing as sdkTracing } from '@opentelemetry/sdk-node';

const TRACER = 'brisk';
let enabled = false;
let sdk: NodeSDK | undefined;

/**
 * Spans here name their parents explicitly, so no implicit context is needed.
 * The SDK's default (AsyncLocalStorage) would track every promise of the
 * request path, which costs far more than the spans themselves.
 */
class ExplicitContextManager implements ContextManager {
  active(): Context {
    return ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(_context: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return fn.call(thisArg, ...args);
  }
  bind<T>(_context: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

/** Whether the environment asks for traces, by the OpenTelemetry conventions. */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env['OTEL_SDK_DISABLED'] === 'true') return false;
  const exporter = env['OTEL_TRACES_EXPORTER'];
  if (exporter) return exporter !== 'none';
  return Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
}

/** Starts the SDK: with the OTEL_* configuration, or with the given exporter (tests). */
export function startTracing(exporter?: sdkTracing.SpanExporter): void {
  sdk = new NodeSDK({
    serviceName: TRACER,
    instrumentations: [],
    contextManager: new ExplicitContextManager(),
    ...(exporter ? { spanProcessors: [new sdkTracing.SimpleSpanProcessor(exporter)] } : {}),
  });
  sdk.start();
  enabled = true;
}

export async function stopTracing(): Promise<void> {
  enabled = false;
  await sdk?.shutdown();
  sdk = undefined;
}

export const tracingEnabled = (): boolean => enabled;

const tracer = () => trace.getTracer(TRACER);

/** The span of one request, continuing the caller's trace when it sent a traceparent. */
export function startRequestSpan(name: string, traceparent: string | undefined, attributes: Attributes): Span | undefined {
  if (!enabled) return undefined;
  const parent = traceparent ? propagation.extract(context.active(), { traceparent }) : context.active();
  return tracer().startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
}

/** A span inside another (queue wait, shadow execution). */
export function startChildSpan(parent: Span | undefined, name: string, attributes: Attributes): Span | undefined {
  // A request the sampler left out gets no children: sampled-out traffic stays nearly free.
  if (!enabled || !parent?.isRecording()) return undefined;
  return tracer().startSpan(name, { attributes }, trace.setSpan(context.active(), parent));
}

/** One span per batch, linked to the span of every request it carries. */
export function startBatchSpan(name: string, requests: readonly (Span | undefined)[], attributes: Attributes): Span | undefined {
  if (!enabled) return undefined;
  const links = requests.flatMap((s) => (s?.isRecording() ? [{ context: s.spanContext() }] : []));
  if (links.length === 0) return undefined;
  return tracer().startSpan(name, { attributes, links });
}

export function endSpan(span: Span | undefined, error?: { code: string; message: string }): void {
  if (!span) return;
  if (error) {
    span.setAttribute('error.type', error.code);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  }
  span.end();
}

export type { Span };
