// The JS half of the module: turns native hook calls into handler calls (bundles load through loader.ts). It talks to
// Envoy only through a NativeBinding: the real one inside Envoy (lib/bootstrap.ts), or the test kit's
// (lib/testing), so both run exactly this code.
import { isAbsolute } from 'node:path';
import { existsSync } from 'node:fs';
import type { NativeBinding } from './generated/binding';
import {
  applySchema,
  type FetchInit,
  type FilterContext,
  type FilterDefinition,
  type FilterRequest,
  type FilterResponse,
  type FilterState,
  type Logger,
  type Metadata,
  type MetadataSource,
  type Reply,
} from './filter';
import { HeaderKind, HeaderMap, type StreamHandle } from './headers';
import { Body, makeChunk, type Direction } from './body';
import { describeValue, isReply, isResponseLike, makeReply, responseReply } from './results';
import { FetchError, InvalidResponseError, InvalidStateError, StreamClosedError, nativeError } from './errors';
import { bytes as checkBytes, headerName, headerValue, status as checkStatus } from './validate';
import { ATTRIBUTES, type AttributeName, type AttributeValue } from './attributes';
import { makeMetrics, metricDeclarationsJson, type Metric, type MetricDeclarations, type MetricsOf } from './metrics';

import { CalloutResult, Level, MetadataSource as Source, Outcome, Phase } from './generated/enums';
import { type CjsModule, findFilter, type LoadedBundle, loadBundle, mergeConfig, schemaError } from './loader';
import { simpleFetchHeaders } from './fetch-headers';

export { bundleIdentity, mergeConfig } from './loader';

export { Outcome, Phase };
const LEVELS = {
  trace: Level.Trace,
  debug: Level.Debug,
  info: Level.Info,
  warn: Level.Warn,
  error: Level.Error,
} as const;
/** The handler of each Phase, by value. */
export const HANDLERS = [
  'onRequestHeaders',
  'onResponseHeaders',
  'onRequestData',
  'onResponseData',
  'onRequestTrailers',
  'onResponseTrailers',
] as const;
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

interface Instance {
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

/** What native polls while a (possibly asynchronous) load runs. */
export interface LoadState {
  done: boolean;
  index: number;
  /** Bit (1 << Phase) for each handler the filter defines: native skips the rest without calling JS. */
  handlers: number;
  error: string;
  /**
   * The bundle's identity (`sha256:<hex>` of its file as loaded) and, for a CommonJS bundle, the exact text
   * compiled: native keeps both with the filter config and hands them to each worker's load, so every
   * worker runs the code the main thread validated, whatever the file holds later. '' for an ES module.
   */
  identity: string;
  source: string;
}

interface PendingFetch {
  resolve(r: Response): void;
  reject(e: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

export function describeError(e: unknown): string {
  if (e instanceof Error) return e.stack ?? `${e.name}: ${e.message}`;
  return String(e);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

import type { RuntimeApi } from './generated/runtime-api';
export type { RuntimeApi };

export function createRuntime(native: NativeBinding): RuntimeApi {
  // Indexes are held by native (JsEnv) and by streams: an unloaded instance leaves a tombstone, never a shift.
  const instances: (Instance | undefined)[] = [];
  const streams = new Map<number, Stream>();

  function log(level: Level, message: string): void {
    if (native.logEnabled(level)) native.log(level, message);
  }

  function makeLogger(prefix: string): Logger {
    return {
      trace: (m) => log(Level.Trace, prefix + m),
      debug: (m) => log(Level.Debug, prefix + m),
      info: (m) => log(Level.Info, prefix + m),
      warn: (m) => log(Level.Warn, prefix + m),
      error: (m) => log(Level.Error, prefix + m),
      enabled: (level) => native.logEnabled(LEVELS[level]),
    };
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
      return native.getMetadata(this.#s.live('ctx.metadata.get'), src, String(ns), String(key));
    }
    set(ns: string, key: string, value: string | number | boolean): void {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
        throw new TypeError(`metadata values must be strings, numbers or booleans, not ${typeof value}`);
      native.setMetadata(this.#s.live('ctx.metadata.set'), String(ns), String(key), value);
    }
  }

  class StreamFilterState implements FilterState {
    readonly #s: Stream;
    constructor(s: Stream) {
      this.#s = s;
    }
    get(key: string): string | undefined {
      return native.getFilterState(this.#s.live('ctx.filterState.get'), String(key));
    }
    set(key: string, value: string | Uint8Array): void {
      native.setFilterState(this.#s.live('ctx.filterState.set'), String(key), checkBytes(value, 'filterState.set'));
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
      return (this.#logger ??= makeLogger(`[nodevoy][${this.#s.instance.name}][${this.#s.id}] `));
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
      return native.attribute(this.#s.live('ctx.attribute'), a[0], a[1]) as AttributeValue<N> | undefined;
    }
    clearRouteCache(): void {
      native.clearRouteCache(this.#s.live('ctx.clearRouteCache'));
    }
    setUpstreamOverrideHost(host: string, strict = false): boolean {
      return native.setUpstreamOverrideHost(this.#s.live('ctx.setUpstreamOverrideHost'), String(host), Boolean(strict));
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

  class Stream implements StreamHandle {
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
      readonly id: number,
      readonly instance: Instance,
      config: unknown,
    ) {
      this.ctx = new StreamContext(this, config);
    }

    signal(): AbortSignal {
      if (!this.controller) {
        if (!this.closed) native.watchClose(this.id);
        this.controller = new AbortController();
        if (this.closed) this.controller.abort(new StreamClosedError('stream'));
      }
      return this.controller.signal;
    }

    metrics(): Readonly<Record<string, Metric>> {
      return (this.metricHandles ??= makeMetrics(native, this, this.instance.def.metrics));
    }

    live(what: string): number {
      if (this.closed) throw new StreamClosedError(what);
      return this.id;
    }

    headers(kind: HeaderKind): HeaderMap {
      return ((this.views ??= [])[kind] ??= new HeaderMap(native, this, kind));
    }

    body(direction: Direction): Body {
      return ((this.bodies ??= [])[direction] ??= new Body(native, this, direction));
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
      native.respond(
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
        native.respond(
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
        id = native.callout(this.live('ctx.fetch'), cluster, flat, body, timeoutMs);
        native.watchClose(this.id);
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
      log(Level.Error, `[nodevoy][${this.instance.name}][${this.id}] ${phase} handler ${how}: ${describeError(e)}`);
      return Outcome.Failed;
    }
  }

  const closedIds = new Uint32Array(1025);
  /** Forgets the streams native completed without a call (nothing in JS was waiting on them). */
  function reapClosed(): void {
    const n = closedIds[0] as number;
    for (let i = 1; i <= n; i++) {
      const id = closedIds[i] as number;
      streams.get(id)?.close();
      streams.delete(id);
    }
    closedIds[0] = 0;
  }

  /**
   * Node 18 builds fetch's Request/Response/Headers lazily (~30-50 ms the first time, and it starts a
   * background wasm compile): on a worker, do it while loading, outside any handler's time budget. Not on
   * the main thread, whose environment may be torn down right away when Envoy rejects a config.
   */
  let warmed = false;
  function prewarmFetch(): void {
    if (warmed) return;
    warmed = true;
    new Response(new Uint8Array(0), { headers: new Headers() });
  }

  function streamFor(streamId: number, instanceIndex: number, route: number): Stream {
    if (closedIds[0]) reapClosed();
    let s = streams.get(streamId);
    if (!s) {
      const inst = instances[instanceIndex] as Instance;
      s = new Stream(streamId, inst, route ? inst.routes.get(route) : inst.config);
      streams.set(streamId, s);
    }
    return s;
  }

  function loadState(work: () => Promise<void>, state: LoadState): LoadState {
    work().then(
      () => {
        state.done = true;
      },
      // Schema and lookup errors read best as their message; anything else (a SyntaxError in the bundle) with its stack.
      (e: unknown) => {
        state.error = e instanceof Error && !(e instanceof SyntaxError) ? e.message : describeError(e);
        state.done = true;
      },
    );
    return state;
  }

  async function openBundle(path: string, source?: string, identity?: string): Promise<LoadedBundle> {
    if (!isAbsolute(path)) throw new Error(`"module" must be an absolute path, got "${path}"`);
    if (!existsSync(path)) throw new Error(`module file ${path} does not exist`);
    return loadBundle(path, source, identity, (m) => log(Level.Warn, `[nodevoy] ${m}`));
  }

  /** Leaves the bundle out of require.cache once no instance here uses it (the next load compiles it again). */
  function releaseBundle(bundle: LoadedBundle): void {
    const m = bundle.module;
    if (!m || instances.some((i) => i?.bundle.module === m)) return;
    const cache = require.cache as Record<string, CjsModule | undefined>;
    if (cache[m.filename] === m) delete cache[m.filename];
  }

  /** Per-route configs seen before their filter loaded, keyed by filter name and config text. */
  const pendingRoutes = new Map<string, { filterName: string; configJson: string }>();
  function checkPendingRoutes(filterName: string, def: FilterDefinition<unknown, unknown>): void {
    for (const [key, pending] of pendingRoutes) {
      if (pending.filterName !== filterName) continue;
      pendingRoutes.delete(key);
      try {
        applySchema(def.routeConfig, JSON.parse(pending.configJson));
      } catch (e) {
        throw schemaError('per-route config', e);
      }
    }
  }

  return {
    closedIds,

    /** Loads a bundle, finds the filter and validates its config; native spins the loop until `done`. */
    load(
      path: string,
      filterName: string,
      configJson: string,
      asyncBudgetMs = 15000,
      source?: string,
      identity?: string,
    ): LoadState {
      const state: LoadState = { done: false, index: -1, handlers: 0, error: '', identity: '', source: '' };
      if (native.workerIndex() >= 0) prewarmFetch();
      return loadState(async () => {
        const raw: unknown = JSON.parse(configJson);
        const bundle = await openBundle(path, source, identity);
        let def: FilterDefinition<unknown, unknown>;
        let config: unknown;
        try {
          def = findFilter(bundle.exports, filterName, path);
          try {
            config = applySchema(def.config, raw);
          } catch (e) {
            throw schemaError('filter_config.config', e);
          }
          metricDeclarationsJson(def.metrics); // bad declarations fail the load
          checkPendingRoutes(filterName, def);
        } catch (e) {
          releaseBundle(bundle); // a rejected config leaves nothing behind
          throw e;
        }
        instances.push({ name: filterName, path, bundle, def, config, routes: new Map(), asyncBudgetMs });
        state.index = instances.length - 1;
        state.handlers = HANDLERS.reduce((bits, h, i) => (def[h] ? bits | (1 << i) : bits), 0);
        state.identity = bundle.identity;
        state.source = bundle.source;
      }, state);
    },

    unload(index: number): void {
      const inst = instances[index];
      if (!inst) return;
      instances[index] = undefined;
      // Envoy destroys a config after its last stream, but JS may not have heard of every completion yet
      // (the closedIds batch): forget them now, or they keep the instance's config reachable.
      reapClosed();
      for (const [id, s] of streams) {
        if (s.instance !== inst) continue;
        streams.delete(id);
        s.close();
      }
      releaseBundle(inst.bundle);
    },

    unroute(index: number, routeId: number): void {
      instances[index]?.routes.delete(routeId);
    },

    /** The filter's metric declarations, for native to define at config time. */
    metrics(index: number): string {
      return metricDeclarationsJson((instances[index] as Instance).def.metrics);
    },

    /** Validates a per-route config against the named filter (the newest loaded, or the given module's). */
    checkRoute(filterName: string, modulePath: string, configJson: string): LoadState {
      const state: LoadState = { done: false, index: -1, handlers: 0, error: '', identity: '', source: '' };
      return loadState(async () => {
        let def = [...instances]
          .reverse()
          .find((i) => i && i.name === filterName && (!modulePath || i.path === modulePath))?.def;
        if (!def && modulePath) def = findFilter((await openBundle(modulePath)).exports, filterName, modulePath);
        if (!def) {
          // Envoy builds an HCM's inline route config before its http filters: validate this one when
          // the filter it names loads (a failure then rejects that filter config, and so the listener).
          pendingRoutes.set(`${filterName}\0${configJson}`, { filterName, configJson });
          return;
        }
        try {
          applySchema(def.routeConfig, JSON.parse(configJson));
        } catch (e) {
          throw schemaError('per-route config', e);
        }
      }, state);
    },

    /** Parses a per-route config for an instance on this worker; returns an error message or ''. */
    route(index: number, routeId: number, configJson: string): string {
      const inst = instances[index] as Instance;
      try {
        inst.routes.set(routeId, mergeConfig(inst.config, applySchema(inst.def.routeConfig, JSON.parse(configJson))));
        return '';
      } catch (e) {
        return describeError(e);
      }
    },

    /** A headers or trailers hook: returns an Outcome; Pending means native parks the stream until settle(). */
    dispatch(phase: Phase, instanceIndex: number, streamId: number, route: number): Outcome {
      const s = streamFor(streamId, instanceIndex, route);
      const name = HANDLERS[phase];
      let result: unknown;
      try {
        const def = s.instance.def;
        switch (phase) {
          case Phase.RequestHeaders:
            result = def.onRequestHeaders?.(s.request(), s.ctx);
            break;
          case Phase.ResponseHeaders:
            result = def.onResponseHeaders?.(s.response(), s.ctx);
            break;
          case Phase.RequestTrailers:
            result = def.onRequestTrailers?.(s.headers(HeaderKind.RequestTrailer), s.ctx);
            break;
          case Phase.ResponseTrailers:
            result = def.onResponseTrailers?.(s.headers(HeaderKind.ResponseTrailer), s.ctx);
            break;
          default:
            throw new InvalidStateError(`phase ${phase} is not dispatched here`);
        }
      } catch (e) {
        return s.fail(name, e, 'threw');
      }
      let pending: PromiseLike<Outcome>;
      if (isThenable(result)) {
        pending = result.then((v) => s.result(name, v, 'resolved to'));
      } else {
        const now = s.result(name, result, 'returned');
        if (typeof now === 'number') return now;
        pending = now; // a returned Response: its body is read before the reply goes
      }
      let done = false;
      const budget = s.instance.asyncBudgetMs;
      const deadline = setTimeout(() => {
        if (done || s.closed) return;
        done = true;
        log(
          Level.Error,
          `[nodevoy][${s.instance.name}][${s.id}] ${name} handler did not settle within ${budget} ms; abandoned`,
        );
        s.close(new DOMException(`${name} exceeded its ${budget} ms budget`, 'TimeoutError'));
        native.settle(s.id, phase, Outcome.Timeout);
      }, budget);
      deadline.unref?.(); // the deadline alone must not keep a loop alive (the pump still sees it)
      pending.then(
        (outcome) => {
          if (done) return;
          done = true;
          clearTimeout(deadline);
          if (!s.closed) native.settle(s.id, phase, outcome);
        },
        (e: unknown) => {
          if (done) return;
          done = true;
          clearTimeout(deadline);
          if (!s.closed) native.settle(s.id, phase, s.fail(name, e, 'rejected'));
        },
      );
      return Outcome.Pending;
    },

    /** A body hook: each chunk through the chunk handler, synchronously, while the views are attached. */
    data(
      phase: Phase,
      instanceIndex: number,
      streamId: number,
      route: number,
      chunks: Uint8Array[],
      end: boolean,
    ): Outcome {
      const s = streamFor(streamId, instanceIndex, route);
      const name = HANDLERS[phase];
      const handler = phase === Phase.RequestData ? s.instance.def.onRequestData : s.instance.def.onResponseData;
      if (!handler) return Outcome.Continue;
      const list = chunks.length ? chunks : [new Uint8Array(0)];
      let parts: (string | Uint8Array)[] | undefined;
      try {
        for (let i = 0; i < list.length; i++) {
          const bytes = list[i] as Uint8Array;
          const r = handler(makeChunk(bytes, end && i === list.length - 1), s.ctx);
          if (isThenable(r))
            throw new TypeError(
              `${name} must be synchronous (its chunk is only valid during the call); await the whole body with body.bytes() instead`,
            );
          if (s.replied || isReply(r)) return s.outcome();
          if (r === undefined || r === bytes) {
            parts?.push(bytes);
            continue;
          }
          parts ??= list.slice(0, i);
          if (r !== null) parts.push(checkBytes(r, name));
        }
      } catch (e) {
        return s.fail(name, e, 'threw');
      }
      if (parts) native.replaceChunks(s.id, phase & 1, parts);
      return Outcome.Continue;
    },

    /** The whole body a handler awaits has arrived (a copy). */
    body(streamId: number, direction: Direction, bytes: Uint8Array): void {
      const s = streams.get(streamId);
      if (s && !s.closed) s.body(direction).deliver(bytes);
    },

    /** A ctx.fetch completed. */
    callout(streamId: number, id: number, result: number, headers: string[], body: Uint8Array): void {
      streams.get(streamId)?.calloutDone(id, result, headers, body);
    },

    /** The stream completed (normally or not): abort its signal; later calls on it throw. */
    closed(streamId: number): void {
      reapClosed();
      const s = streams.get(streamId);
      if (!s) return;
      streams.delete(streamId);
      s.close();
    },
  };
}
