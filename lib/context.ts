// The per-stream objects a handler sees (ctx, the request and response views, metadata, filter state)
// and the Stream behind them: its reply, its fetches, its signal and what closing it fails. Everything
// here reaches Envoy through the StreamEnv's NativeBinding.
import type { NativeBinding } from './generated/binding';
import type {
  FetchInit,
  FilterContext,
  FilterDefinition,
  FilterRequest,
  FilterResponse,
  FilterState,
  Logger,
  Metadata,
  MetadataSource,
  Reply,
} from './filter';
import { HeaderKind, HeaderMap, type StreamHandle } from './headers';
import { Body, type Direction } from './body';
import { describeValue, isReply, isResponseLike, makeReply, responseReply } from './results';
import { FetchError, InvalidResponseError, StreamClosedError, describeError, nativeError } from './errors';
import { bytes as checkBytes, headerName, headerValue, status as checkStatus } from './validate';
import { ATTRIBUTES, type AttributeName, type AttributeValue } from './attributes';
import { makeMetrics, type Metric, type MetricDeclarations, type MetricsOf } from './metrics';
import { CalloutResult, Level, MetadataSource as Source, Outcome } from './generated/enums';
import type { LoadedBundle } from './loader';
import { simpleFetchHeaders } from './fetch-headers';

/** What every stream of one environment shares: the binding and the log. */
export interface StreamEnv {
  readonly native: NativeBinding;
  log(level: Level, message: string): void;
  makeLogger(prefix: string): Logger;
}

const METADATA_SOURCES: Record<MetadataSource, Source> = {
  dynamic: Source.Dynamic,
  route: Source.Route,
  cluster: Source.Cluster,
  host: Source.Host,
  host_locality: Source.HostLocality,
};
const CALLOUT_FAILURES: Record<number, string> = {
  [CalloutResult.Reset]: 'the upstream reset the call or it timed out',
  [CalloutResult.ExceedResponseBufferLimit]: 'the response exceeded the buffer limit',
};
const DEFAULT_FETCH_TIMEOUT_MS = 5000;

export interface Instance {
  readonly name: string;
  readonly path: string;
  /** The bundle it was made from: released (left out of require.cache) with the last instance using it. */
  readonly bundle: LoadedBundle;
  readonly def: FilterDefinition<unknown, unknown>;
  readonly config: unknown;
  /** Merged configs by per-route config id, parsed once per route in this environment. */
  readonly routes: Map<number, unknown>;
  /** A parked handler not settled after this long is abandoned (the stream gets 504 or continues under fail_open). */
  readonly asyncBudgetMs: number;
}

interface PendingFetch {
  resolve(r: Response): void;
  reject(e: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

// Per-stream objects are class instances with their accessors and methods on the prototype: an object
// literal with getters costs V8 a slow runtime call per accessor and a dictionary-mode object on every
// stream (callgrind on Envoy: ~12,000 of the ~56,000 instructions a no-op handler added per request).
class StreamMetadata implements Metadata {
  readonly #s: Stream;
  constructor(s: Stream) {
    this.#s = s;
  }
  get(ns: string, key: string, source: MetadataSource = 'dynamic'): string | number | boolean | undefined {
    const src = METADATA_SOURCES[source];
    if (src === undefined) throw new TypeError(`unknown metadata source "${String(source)}"`);
    return this.#s.env.native.getMetadata(this.#s.live('ctx.metadata.get'), src, String(ns), String(key));
  }
  set(ns: string, key: string, value: string | number | boolean): void {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
      throw new TypeError(`metadata values must be strings, numbers or booleans, not ${typeof value}`);
    this.#s.env.native.setMetadata(this.#s.live('ctx.metadata.set'), String(ns), String(key), value);
  }
}

class StreamFilterState implements FilterState {
  readonly #s: Stream;
  constructor(s: Stream) {
    this.#s = s;
  }
  get(key: string): string | undefined {
    return this.#s.env.native.getFilterState(this.#s.live('ctx.filterState.get'), String(key));
  }
  set(key: string, value: string | Uint8Array): void {
    this.#s.env.native.setFilterState(
      this.#s.live('ctx.filterState.set'),
      String(key),
      checkBytes(value, 'filterState.set'),
    );
  }
}

class StreamContext implements FilterContext<unknown> {
  readonly #s: Stream;
  #logger?: Logger;
  #metadata?: Metadata;
  #filterState?: FilterState;
  constructor(
    s: Stream,
    readonly config: unknown,
  ) {
    this.#s = s;
  }
  get streamId(): number {
    return this.#s.id;
  }
  get signal(): AbortSignal {
    return this.#s.signal();
  }
  get log(): Logger {
    return (this.#logger ??= this.#s.env.makeLogger(`[nodevoy][${this.#s.instance.name}][${this.#s.id}] `));
  }
  get metrics(): MetricsOf<MetricDeclarations> {
    return this.#s.metrics() as MetricsOf<MetricDeclarations>;
  }
  get metadata(): Metadata {
    return (this.#metadata ??= new StreamMetadata(this.#s));
  }
  get filterState(): FilterState {
    return (this.#filterState ??= new StreamFilterState(this.#s));
  }
  respond(code: number, body?: string | Uint8Array, headers?: Record<string, string>): Reply {
    return this.#s.respond(code, body, headers);
  }
  fetch(cluster: string, input: string | URL | Request, init?: FetchInit): Promise<Response> {
    return this.#s.fetch(cluster, input, init);
  }
  attribute<N extends AttributeName>(name: N): AttributeValue<N> | undefined {
    const a = ATTRIBUTES[name];
    if (!a) throw new TypeError(`unknown attribute "${String(name)}"`);
    return this.#s.env.native.attribute(this.#s.live('ctx.attribute'), a[0], a[1]) as AttributeValue<N> | undefined;
  }
  clearRouteCache(): void {
    this.#s.env.native.clearRouteCache(this.#s.live('ctx.clearRouteCache'));
  }
  setUpstreamOverrideHost(host: string, strict = false): boolean {
    return this.#s.env.native.setUpstreamOverrideHost(
      this.#s.live('ctx.setUpstreamOverrideHost'),
      String(host),
      Boolean(strict),
    );
  }
}

class RequestView implements FilterRequest {
  readonly #s: Stream;
  constructor(
    s: Stream,
    readonly headers: HeaderMap,
  ) {
    this.#s = s;
  }
  get method(): string {
    return this.headers.get(':method') ?? '';
  }
  get path(): string {
    return this.headers.get(':path') ?? '';
  }
  get authority(): string {
    return this.headers.get(':authority') ?? '';
  }
  get body(): Body {
    return this.#s.body(0);
  }
}

class ResponseView implements FilterResponse {
  readonly #s: Stream;
  constructor(
    s: Stream,
    readonly headers: HeaderMap,
  ) {
    this.#s = s;
  }
  get status(): number {
    return Number(this.headers.get(':status') ?? 0);
  }
  set status(code: number) {
    this.headers.set(':status', String(checkStatus(code, 100)));
  }
  get body(): Body {
    return this.#s.body(1);
  }
}

export class Stream implements StreamHandle {
  closed = false;
  replied = false;
  // Made on first use: most handlers never look at these.
  controller?: AbortController;
  private views?: HeaderMap[];
  private bodies?: [Body?, Body?];
  private fetches?: Map<number, PendingFetch>;
  private metricHandles?: Readonly<Record<string, Metric>>;
  readonly ctx: StreamContext;

  constructor(
    readonly env: StreamEnv,
    readonly id: number,
    readonly instance: Instance,
    config: unknown,
  ) {
    this.ctx = new StreamContext(this, config);
  }

  signal(): AbortSignal {
    if (!this.controller) {
      if (!this.closed) this.env.native.watchClose(this.id);
      this.controller = new AbortController();
      if (this.closed) this.controller.abort(new StreamClosedError('stream'));
    }
    return this.controller.signal;
  }

  metrics(): Readonly<Record<string, Metric>> {
    return (this.metricHandles ??= makeMetrics(this.env.native, this, this.instance.def.metrics));
  }

  live(what: string): number {
    if (this.closed) throw new StreamClosedError(what);
    return this.id;
  }

  headers(kind: HeaderKind): HeaderMap {
    return ((this.views ??= [])[kind] ??= new HeaderMap(this.env.native, this, kind));
  }

  body(direction: Direction): Body {
    return ((this.bodies ??= [])[direction] ??= new Body(this.env.native, this, direction));
  }

  request(): FilterRequest {
    return new RequestView(this, this.headers(HeaderKind.RequestHeader));
  }

  response(): FilterResponse {
    return new ResponseView(this, this.headers(HeaderKind.ResponseHeader));
  }

  respond(code: number, body?: string | Uint8Array, headers?: Record<string, string>): Reply {
    if (this.closed) throw new StreamClosedError('ctx.respond');
    if (this.replied) throw new InvalidResponseError('ctx.respond: this stream already has a reply');
    const flat: string[] = [];
    for (const [k, v] of Object.entries(headers ?? {})) {
      const n = headerName(k);
      flat.push(n, headerValue(n, v));
    }
    this.env.native.respond(
      this.id,
      checkStatus(code),
      flat,
      body === undefined ? null : checkBytes(body, 'ctx.respond'),
      'nodevoy_local_reply',
    );
    this.replied = true;
    return makeReply(code);
  }

  /**
   * What a headers or trailers handler's value means: nothing (or null) continues, a Reply or a web Response
   * answers, anything else is a mistake that fails the stream (never taken for "continue").
   */
  result(name: string, value: unknown, how: 'returned' | 'resolved to'): Outcome | Promise<Outcome> {
    if (value === undefined || value === null || isReply(value)) return this.outcome();
    if (isResponseLike(value) && !this.replied) return this.replyWith(name, value);
    return this.fail(
      name,
      new TypeError(
        `${name} handler ${how} ${describeValue(value)}; return nothing to continue, or ctx.respond(...) or a Response to reply`,
      ),
      how,
    );
  }

  private async replyWith(name: string, res: Response): Promise<Outcome> {
    let reply: Awaited<ReturnType<typeof responseReply>>;
    try {
      reply = await responseReply(res);
    } catch (e) {
      return this.fail(name, e, 'returned a Response that could not be read:');
    }
    if (this.closed) return Outcome.Continue; // the stream went meanwhile; nothing to answer
    try {
      this.env.native.respond(
        this.id,
        checkStatus(reply.status),
        reply.headers,
        reply.body.length ? reply.body : null,
        'nodevoy_local_reply',
      );
    } catch (e) {
      return this.fail(
        name,
        nativeError(e, `${name} (returned Response)`),
        'returned a Response that could not be sent:',
      );
    }
    this.replied = true;
    return Outcome.Reply;
  }

  async fetch(cluster: string, input: string | URL | Request, init?: FetchInit): Promise<Response> {
    if (typeof cluster !== 'string' || cluster === '')
      throw new TypeError('ctx.fetch: the first argument is the Envoy cluster name');
    const base = `http://${cluster}`;
    let flat = simpleFetchHeaders(input, init, base);
    let body: Uint8Array | null = null;
    if (!flat) {
      // Anything beyond a bodiless call with a plain header record: the web Request does the work.
      const req =
        input instanceof Request
          ? init
            ? new Request(input, init)
            : input
          : new Request(new URL(String(input), base), init);
      const url = new URL(req.url);
      flat = [':method', req.method, ':path', url.pathname + url.search, 'host', url.host];
      req.headers.forEach((v, k) => {
        if (k !== 'host') flat?.push(k, v);
      });
      body = req.body ? new Uint8Array(await req.arrayBuffer()) : null;
    }
    const timeoutMs = init?.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
      throw new RangeError(`ctx.fetch: timeoutMs must be a positive integer, got ${timeoutMs}`);
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    signal?.throwIfAborted();
    let id: number;
    try {
      id = this.env.native.callout(this.live('ctx.fetch'), cluster, flat, body, timeoutMs);
      this.env.native.watchClose(this.id);
    } catch (e) {
      throw nativeError(e, 'ctx.fetch');
    }
    return new Promise<Response>((resolve, reject) => {
      // Envoy enforces the timeout too; this one also covers a callout whose completion never comes back.
      const timer = setTimeout(
        () => settle(new FetchError(`ctx.fetch to cluster "${cluster}" timed out after ${timeoutMs} ms`)),
        timeoutMs + 1000,
      );
      const settle = (e: unknown) => {
        this.fetches?.delete(id);
        clearTimeout(timer);
        reject(e);
      };
      (this.fetches ??= new Map()).set(id, {
        resolve: (r: Response) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: settle,
        timer,
      });
      signal?.addEventListener('abort', () => settle(signal.reason), { once: true });
    });
  }

  calloutDone(id: number, result: number, flat: string[], body: Uint8Array): void {
    const f = this.fetches?.get(id);
    if (!f) return;
    this.fetches?.delete(id);
    if (result !== CalloutResult.Success) {
      f.reject(new FetchError(`ctx.fetch failed: ${CALLOUT_FAILURES[result] ?? `callout result ${result}`}`));
      return;
    }
    // Pairs, not a Headers object: Node 18's Response copies a Headers through an iterator it builds with
    // setPrototypeOf on every call, which deoptimizes the code around it (callgrind: the largest share of a call).
    const headers: [string, string][] = [];
    let status = 0;
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const k = flat[i] as string;
      const v = flat[i + 1] as string;
      if (k === ':status') status = Number(v);
      else if (!k.startsWith(':')) headers.push([k, v]);
    }
    try {
      const nullBody = status === 204 || status === 304 || (status >= 100 && status < 200);
      f.resolve(new Response(nullBody ? null : (body as unknown as BodyInit), { status, headers }));
    } catch (e) {
      f.reject(new FetchError(`ctx.fetch: the upstream's response cannot be represented: ${describeError(e)}`));
    }
  }

  /** The stream ended, or its handler was abandoned: everything pending on it fails with `reason`. */
  close(given?: unknown): void {
    this.closed = true;
    // Most streams have nothing to notify: build the error (a stack capture) only when someone listens.
    if (!this.controller && !this.bodies && !this.fetches?.size) return;
    const reason = given ?? new StreamClosedError('stream');
    this.controller?.abort(reason);
    for (const b of this.bodies ?? []) b?.abort(reason);
    for (const f of this.fetches?.values() ?? []) {
      clearTimeout(f.timer);
      f.reject(reason);
    }
    this.fetches?.clear();
  }

  outcome(): Outcome {
    return this.replied ? Outcome.Reply : Outcome.Continue;
  }

  fail(phase: string, e: unknown, how: string): Outcome {
    this.env.log(
      Level.Error,
      `[nodevoy][${this.instance.name}][${this.id}] ${phase} handler ${how}: ${describeError(e)}`,
    );
    return Outcome.Failed;
  }
}
