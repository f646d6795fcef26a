import type { HeaderMap } from './headers';
import type { Body, BodyChunk } from './body';
import type { AttributeName, AttributeValue } from './attributes';
import type { MetricDeclarations, MetricsOf } from './metrics';

/** Marks objects made by defineFilter, across copies of this SDK bundled into user code. */
export const FILTER_BRAND: unique symbol = Symbol.for('nodevoy.filter') as never;

declare const REPLY_BRAND: unique symbol;

/**
 * What a handler returns to answer the request itself; made only by `ctx.respond()` (an object that merely
 * has a `status` is not a Reply, so `return { status: 401 }` does not compile).
 */
export interface Reply {
  readonly status: number;
  readonly [REPLY_BRAND]: true;
}

/** Log lines go to Envoy's log under [dynamic_modules], prefixed with the filter name and stream id. */
export interface Logger {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Whether a level is on, to skip building expensive messages. */
  enabled(level: 'trace' | 'debug' | 'info' | 'warn' | 'error'): boolean;
}

/**
 * A config validator: anything with `parse(input)` that returns the typed value or throws (zod, valibot
 * wrappers, typebox's `Value` wrappers…), or a plain function doing the same. Its error message becomes
 * Envoy's config rejection message.
 */
export type Schema<T> = { parse(input: unknown): T } | ((input: unknown) => T);

/** Where `ctx.metadata.get` reads from (Envoy's metadata sources). */
export type MetadataSource = 'dynamic' | 'route' | 'cluster' | 'host' | 'host_locality';

export interface Metadata {
  /** A metadata value under `namespace`/`key` (a number, string or boolean), or undefined. */
  get(namespace: string, key: string, source?: MetadataSource): string | number | boolean | undefined;
  /** Sets dynamic metadata (visible to later filters, access logs and the router). */
  set(namespace: string, key: string, value: string | number | boolean): void;
}

export interface FilterState {
  /** A filter state value as a string, or undefined. */
  get(key: string): string | undefined;
  /** Sets a filter state value (bytes), readable by other filters and Envoy's filter-state matchers. */
  set(key: string, value: string | Uint8Array): void;
}

/** `RequestInit` for `ctx.fetch`, plus a timeout (default 5000 ms) after which the call fails. */
export interface FetchInit extends RequestInit {
  timeoutMs?: number;
}

/** Per-stream context handed to every handler. `M`: the filter's metric declarations (types `metrics`). */
export interface FilterContext<C, M extends MetricDeclarations = MetricDeclarations> {
  /**
   * The filter's config: `filter_config.config` (parsed by the `config` schema when given), with the route's
   * per-route `config` (parsed by `routeConfig`) merged over it, shallowly: top-level keys of the route's
   * object replace the filter's.
   */
  readonly config: C;
  /** Aborted when the stream ends before the handler is done (client reset, reply from another filter). */
  readonly signal: AbortSignal;
  /** This stream's id in nodevoy's log lines. */
  readonly streamId: number;
  readonly log: Logger;
  /** The filter's metrics, by the names declared in `defineFilter({ metrics })`, each typed by its declaration. */
  readonly metrics: MetricsOf<M>;
  readonly metadata: Metadata;
  readonly filterState: FilterState;
  /**
   * Answers the request with a local reply instead of forwarding it; return its result from the handler.
   * Before the response headers went to the client this replaces the response (status, headers, body).
   * After they went (e.g. from a response chunk handler whose headers were not held), the stream is reset:
   * the client sees a truncated response, never a complete one with the old status.
   */
  respond(status: number, body?: string | Uint8Array, headers?: Record<string, string>): Reply;
  /**
   * An HTTP request to an Envoy cluster (Envoy's http_callout: its connection pools, load balancing, TLS and
   * stats). `input` is a path like "/check", a URL (its host becomes the Host header) or a `Request`. The
   * response body is buffered. Cancelled when the stream ends. Plain `fetch` keeps working for other hosts.
   */
  fetch(cluster: string, input: string | URL | Request, init?: FetchInit): Promise<Response>;
  /** A stream attribute by Envoy's attribute name (e.g. "source.address", "request.id", "response.code"). */
  attribute<N extends AttributeName>(name: N): AttributeValue<N> | undefined;
  /** Makes Envoy select the route again, after changing headers that routing looks at. */
  clearRouteCache(): void;
  /** Asks the load balancer for a specific upstream host ("ip:port"); false if Envoy declined. */
  setUpstreamOverrideHost(host: string, strict?: boolean): boolean;
}

export interface FilterRequest {
  readonly headers: HeaderMap;
  readonly method: string;
  /** The :path pseudo-header, query included. */
  readonly path: string;
  /** The :authority pseudo-header (HTTP/1 Host). */
  readonly authority: string;
  /** The whole request body; readable (and rewritable) while the request headers handler runs. */
  readonly body: Body;
}

export interface FilterResponse {
  readonly headers: HeaderMap;
  /** The :status pseudo-header as a number; assign to rewrite it (while the response headers are held). */
  status: number;
  /** The whole response body; readable (and rewritable) while the response headers handler runs. */
  readonly body: Body;
}

/**
 * Returning nothing (or resolving to nothing) continues the stream; `ctx.respond(...)` or a web `Response`
 * answers it. Anything else is a mistake: the stream fails per the failure policy.
 */
export type HandlerResult = void | Reply | Response;
export type Handler<T, C, M extends MetricDeclarations = MetricDeclarations> = (
  subject: T,
  ctx: FilterContext<C, M>,
) => HandlerResult | Promise<HandlerResult>;

/**
 * What a chunk handler returns: nothing (or the chunk's own bytes) passes the chunk on unchanged, bytes or a
 * string replace it, null drops it. `ctx.respond()` answers instead. Chunk handlers are synchronous.
 */
export type ChunkResult = void | null | string | Uint8Array | Reply;
export type ChunkHandler<C, M extends MetricDeclarations = MetricDeclarations> = (
  chunk: BodyChunk,
  ctx: FilterContext<C, M>,
) => ChunkResult;

export interface FilterSpec<C, R, M extends MetricDeclarations = MetricDeclarations> {
  /** Validates (and may transform) `filter_config.config` at config time. */
  config?: Schema<C>;
  /** Validates a route's per-route `config` at config time; the result is merged over the filter's config. */
  routeConfig?: Schema<R>;
  /** Counters, gauges and histograms, defined as Envoy stats `<filter_name>.<metric>` under the module's metrics namespace. */
  metrics?: M;
  onRequestHeaders?: Handler<FilterRequest, C, M>;
  /** Each request body chunk as it arrives (zero-copy: `chunk.bytes` is valid only during the call). */
  onRequestData?: ChunkHandler<C, M>;
  onRequestTrailers?: Handler<HeaderMap, C, M>;
  onResponseHeaders?: Handler<FilterResponse, C, M>;
  /** Each response body chunk as it arrives (zero-copy: `chunk.bytes` is valid only during the call). */
  onResponseData?: ChunkHandler<C, M>;
  onResponseTrailers?: Handler<HeaderMap, C, M>;
}

export interface FilterDefinition<C, R = Partial<C>, M extends MetricDeclarations = MetricDeclarations>
  extends FilterSpec<C, R, M> {
  readonly [FILTER_BRAND]: true;
}

/**
 * Declares an HTTP filter. Export the result under the name the Envoy config's `filter_name` uses.
 * `C` types `ctx.config` (inferred from the `config` schema when one is given); `R` types a route's override.
 */
// biome-ignore lint/complexity/noBannedTypes: {} is the empty metric declaration set, as users write it
export function defineFilter<C = Record<string, unknown>, R = Partial<C>, const M extends MetricDeclarations = {}>(
  spec: FilterSpec<C, R, M>,
): FilterDefinition<C, R, M> {
  return Object.freeze({ ...spec, [FILTER_BRAND]: true as const });
}

/** @internal */
export function isFilterDefinition(v: unknown): v is FilterDefinition<unknown, unknown, MetricDeclarations> {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[FILTER_BRAND] === true;
}

/** @internal Runs a schema (object with parse, or function). */
export function applySchema<T>(schema: Schema<T> | undefined, input: unknown): T {
  if (!schema) return input as T;
  return typeof schema === 'function' ? schema(input) : schema.parse(input);
}
