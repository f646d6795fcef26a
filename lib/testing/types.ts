// Public types of nodevoy/testing.
import type { MetadataSource } from '../filter';
import type { AttributeName, AttributeValue } from '../attributes';
import type { TestClock } from './clock';

/** A body as the test gives it: one piece, or an array of chunks that arrive as separate data events. */
export type BodyInput = string | Uint8Array | ReadonlyArray<string | Uint8Array>;

/** Headers as the test gives them: a name (any case) to a value, or to several values. */
export type HeadersInput = Readonly<Record<string, string | readonly string[]>>;

/** A dynamic metadata value. */
export type MetadataValue = string | number | boolean;

/** Metadata by namespace, then key. */
export type MetadataMap = Record<string, Record<string, MetadataValue>>;

/** Log levels, as `ctx.log` names them. Envoy's log also has "critical" (never used by nodevoy). */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** One line in Envoy's log under [dynamic_modules]: from ctx.log, console (with captureConsole) or nodevoy. */
export interface LogEntry {
  readonly level: LogLevel | 'critical';
  readonly message: string;
}

/** The downstream request the fake client sends. */
export interface TestRequest {
  /** Default "GET". */
  method?: string;
  /** The :path, query included. Default "/". */
  path?: string;
  /** The :authority (HTTP/1 Host). Default "localhost"; a `host` header given in `headers` wins. */
  authority?: string;
  /** Default "http". */
  scheme?: string;
  /**
   * Request headers. As over HTTP/1.1: a one-piece body without trailers gets a content-length header
   * unless one is given, hop-by-hop headers (connection, keep-alive, transfer-encoding) are dropped, and
   * an x-request-id is generated when missing (as Envoy's connection manager does).
   */
  headers?: HeadersInput;
  /**
   * The body: one piece (one data event) or chunks (one data event each, in order). As over HTTP/1.1 in
   * Envoy, the body then ends with an empty data event carrying end of stream (a chunk handler sees a last,
   * empty chunk with `end: true`), or with the trailers.
   */
  body?: BodyInput;
  /** Request trailers; the body then ends with them instead of with its last chunk. */
  trailers?: HeadersInput;
}

/** What the upstream (the router's cluster) received. */
export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  /** Headers as a node:http server sees them: `host` first, no pseudo-headers, repeats joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** The same headers as ordered pairs, repeats kept. */
  readonly headerList: ReadonlyArray<readonly [string, string]>;
  /** The body as UTF-8 text. */
  readonly body: string;
  readonly bytes: Uint8Array;
  readonly trailers: Readonly<Record<string, string>>;
  /** The whole request (end of stream) reached the upstream; false if the stream ended first. */
  readonly complete: boolean;
}

/** How the fake upstream answers: a response, or `{ reset: true }` to reset before any response headers. */
export type UpstreamReply =
  | {
      status: number;
      /** A one-piece body without trailers gets a content-length header unless one is given. */
      headers?: HeadersInput;
      /** One piece (one data event) or chunks (one data event each); then the end of stream, as for requests. */
      body?: BodyInput;
      trailers?: HeadersInput;
    }
  | { reset: true };

/** The fake upstream: called once the whole request reached it. Default: echo (see runFilter). */
export type UpstreamHandler = (request: UpstreamRequest) => UpstreamReply | Promise<UpstreamReply>;

/**
 * A fake Envoy cluster for `ctx.fetch(cluster, ...)`: a web-standard handler. A handler that throws is
 * an upstream reset (the fetch resolves with Envoy's 503); one that outlasts the fetch's timeoutMs
 * gives Envoy's 504 "upstream request timeout".
 */
export type ClusterHandler = (request: Request) => Response | Promise<Response>;

/**
 * Attribute values to report instead of the kit's defaults; null means Envoy has none (undefined to the
 * filter). Defaults: request.* from the request headers (request.id is the x-request-id, request.protocol
 * "HTTP/1.1", request.duration the microseconds since the request began, on the clock if any),
 * response.code and response.code_details once known, source.address "127.0.0.1:40000",
 * destination.address "127.0.0.1:10000" (ports from those), connection.id the stream id,
 * xds.cluster_name "upstream". The others are absent.
 */
export type AttributeOverrides = { [N in AttributeName]?: AttributeValue<N> | null };

/** What the client received. */
export interface TestResponse {
  /** The :status, or 0 if the stream was reset before any response headers reached the client. */
  readonly status: number;
  /** Response headers (no pseudo-headers), repeats joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly headerList: ReadonlyArray<readonly [string, string]>;
  /** The body as UTF-8 text (what arrived before a reset, if the stream was reset). */
  readonly body: string;
  readonly bytes: Uint8Array;
  readonly trailers: Readonly<Record<string, string>>;
  /** The response ended normally (false when the stream was reset). */
  readonly complete: boolean;
}

/** A local reply Envoy sent (from ctx.respond, a failed handler, or Envoy itself, e.g. 413). */
export interface LocalReply {
  readonly status: number;
  readonly body: string;
  /** The headers given with the reply (not the content-length/content-type Envoy adds). */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Envoy's response code details: "nodevoy_local_reply" (ctx.respond), "nodevoy_handler_failed",
   * "request_payload_too_large", "response_payload_too_large", "upstream_reset_before_response_started{...}".
   */
  readonly details: string;
}

/** A ctx.fetch call as the fake cluster saw it. */
export interface CalloutRecord {
  readonly cluster: string;
  readonly request: {
    readonly method: string;
    readonly path: string;
    readonly authority: string;
    readonly headers: Readonly<Record<string, string>>;
    readonly body: string;
  };
  /** What the filter got back (absent if the stream ended first). */
  readonly response?: {
    readonly status: number;
    readonly headers: Readonly<Record<string, string>>;
    readonly body: string;
  };
  /** The cluster handler's error (an upstream reset, seen by the filter as a 503). */
  readonly error?: unknown;
  /** The call outlasted its timeoutMs (the filter got Envoy's 504). */
  readonly timedOut: boolean;
}

/** One metric series. */
export interface MetricSample {
  readonly type: 'counter' | 'gauge' | 'histogram';
  /** The full stat name `<filter_name>.<metric>` (Envoy prefixes its metrics namespace, "dynamicmodulescustom" by default). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** A counter's or gauge's value; a histogram's number of samples. */
  readonly value: number;
  /** A histogram's recorded values, in order. */
  readonly samples?: readonly number[];
}

/**
 * The filter's stats: its declared metrics as `<filter_name>.<metric>` and nodevoy's own
 * (`<filter_name>.nodevoy.requests`, `.nodevoy.errors{kind}`, `.nodevoy.js_time_us{phase}`).
 * Lookups accept the full name or the name without the `<filter_name>.` prefix.
 */
export interface TestMetrics {
  readonly all: readonly MetricSample[];
  /** A counter's value (0 if it was never incremented). */
  counter(name: string, labels?: Readonly<Record<string, string>>): number;
  /** A gauge's value, or undefined if it was never recorded. */
  gauge(name: string, labels?: Readonly<Record<string, string>>): number | undefined;
  /** A histogram's recorded values ([] if none). */
  histogram(name: string, labels?: Readonly<Record<string, string>>): readonly number[];
}

/** Everything one request through the filter came to. */
export interface TestResult {
  /** What the upstream received; undefined if the request never reached it (e.g. the filter replied from its request headers handler). */
  readonly upstreamRequest?: UpstreamRequest;
  /** What the client received. */
  readonly response: TestResponse;
  /** The local reply, if Envoy sent one instead of the upstream's response. */
  readonly localReply?: LocalReply;
  /** The stream was reset (e.g. a reply after the response headers went, or a response over the buffer limit after they went). */
  readonly reset: boolean;
  /** Why the stream was reset (Envoy's details), if it was. */
  readonly resetReason?: string;
  /** The filter's stats after the request (cumulative over the runs of one loadFilter). */
  readonly metrics: TestMetrics;
  /** Log lines written while this request ran, at or above the log level. */
  readonly logs: readonly LogEntry[];
  /** The stream's dynamic metadata at the end. */
  readonly metadata: MetadataMap;
  /** The stream's filter state at the end (values as UTF-8 text). */
  readonly filterState: Readonly<Record<string, string>>;
  /** The ctx.fetch calls the filter made, in order. */
  readonly callouts: readonly CalloutRecord[];
  /** The upstream host the filter asked for with ctx.setUpstreamOverrideHost, if it did (and it was accepted). */
  readonly upstreamOverrideHost?: { readonly host: string; readonly strict: boolean };
  /** How many times the filter called ctx.clearRouteCache(). */
  readonly routeCacheCleared: number;
}

/** A filter given by its compiled bundle, as Envoy's config names it. */
export interface FilterModule {
  /** The bundle's absolute path (CommonJS or ESM), as `filter_config.module`. */
  module: string;
  /** The export to run, as `filter_name`. */
  filterName: string;
}

/** Per-request options: the request, and what the stream around the filter does. */
export interface RunOptions {
  request?: TestRequest;
  /**
   * This request's route's per-route config (`typed_per_filter_config` → `config`): validated by the
   * filter's `routeConfig` schema like at Envoy config time (a failure rejects) and merged shallowly over
   * the filter config. Default: the filter options' routeConfig.
   */
  routeConfig?: Record<string, unknown>;
  /** The upstream behind the router. Default: an echo of the request as JSON (200, application/json). */
  upstream?: UpstreamHandler;
  /** Clusters ctx.fetch can call, by name. Calling another name fails with Envoy's "no such cluster". */
  clusters?: Readonly<Record<string, ClusterHandler>>;
  /** Attribute values instead of the defaults (see AttributeOverrides). */
  attributes?: AttributeOverrides;
  /** Metadata present when the stream starts: dynamic, and the route/cluster/host metadata ctx.metadata.get can read. */
  metadata?: Partial<Record<MetadataSource, MetadataMap>>;
  /** Filter state present when the stream starts. */
  filterState?: Readonly<Record<string, string>>;
  /** Real-time limit for the request to complete (default 10000 ms); the run rejects after it, naming what still waits. */
  timeoutMs?: number;
}

/** Options fixed when the filter is loaded (Envoy config time), plus defaults for each request. */
export interface FilterOptions extends RunOptions {
  /** `filter_config.config`: validated by the filter's `config` schema like at Envoy config time (a failure rejects). Must be JSON. */
  config?: unknown;
  /**
   * `filter_config.failure_mode`: "fail_closed" (default) answers a handler that threw, rejected or ran out
   * of time with a local reply; "fail_open" lets the stream go on untouched (nodevoy.errors still counts it).
   */
  failureMode?: 'fail_closed' | 'fail_open';
  /** `filter_config.failure_status`: the status of the fail_closed reply to a failed handler. Default 500. */
  failureStatus?: number;
  /**
   * `filter_config.sync_budget_ms`: how long one call into the filter's JS may run (default 250). The
   * module's watchdog stops such a call mid-way, as in Envoy: the stream counts a timeout and gets 504.
   */
  syncBudgetMs?: number;
  /** `filter_config.async_budget_ms`: how long an async handler may take to settle (default 15000); then 504. */
  asyncBudgetMs?: number;
  /** `filter_config.js_time_histogram`: record `nodevoy.js_time_us{phase}` for every call into JS. Default false. */
  jsTimeHistogram?: boolean;
  /** For a FilterDefinition: the filter's name (Envoy's filter_name) in log lines and metric names. Default "filter". */
  filterName?: string;
  /** The listener's per-connection buffer limit (bytes) a buffered body may not exceed. Default 1 MiB, as Envoy. */
  bufferLimit?: number;
  /** Envoy's log level: lines below it are not produced (ctx.log.enabled() says so). Default "info". */
  logLevel?: LogLevel | 'critical' | 'off';
  /** A TestClock: the filter's code (and the test's upstream and cluster handlers) gets its fake timers and Date (see createClock). */
  clock?: TestClock;
  /** Route the filter's console.* calls into the log, as inside Envoy (`[console] ...` at the matching level). Default false. */
  captureConsole?: boolean;
}

/** A loaded filter: run requests through it; its stats and log accumulate across runs. */
export interface TestFilter {
  /** The filter's name (Envoy's filter_name). */
  readonly name: string;
  /** Sends one request through the filter and resolves once the stream completed (or was reset). */
  run(options?: RunOptions): Promise<TestResult>;
  /** The stats so far. */
  readonly metrics: TestMetrics;
  /** Every log line so far (including those written while loading). */
  readonly logs: readonly LogEntry[];
  /**
   * Destroys the filter's config and its per-route configs, as Envoy does when a listener goes: once the
   * runs in flight completed, the module unloads the instance (its module-level state becomes garbage).
   * Runs started later reject; calling it again returns the same promise.
   */
  close(): Promise<void>;
}
