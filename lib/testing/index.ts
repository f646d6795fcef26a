/**
 * nodevoy/testing: unit-test filters in plain Node, without Envoy.
 *
 * The kit runs the module itself: its C++ (module.cc, FilterConfig, the stream core, the binding), built
 * for this Node as an addon (native.ts), and lib/runtime.ts — the same JS that runs inside Envoy — against
 * a fake Envoy (fake-envoy.ts answers the module's callbacks; stream.ts: Envoy's filter iteration for the
 * one filter, the router with a fake upstream, a fake HTTP/1.1 client, stream info, http callouts to fake
 * clusters).
 *
 * ```js
 * import { runFilter, createClock } from 'nodevoy/testing';
 * const r = await runFilter(myFilter, { config: { greeting: 'hi' }, request: { path: '/x' } });
 * assert.equal(r.upstreamRequest?.headers['x-greeting'], 'hi');
 *
 * const clock = createClock();                       // handlers that await timers
 * const run = runFilter(slowFilter, { clock });
 * await clock.advance(5000);
 * assert.equal((await run).response.status, 504);
 * ```
 *
 * Modelled as in Envoy: phase order, parking and resuming async handlers, bodies buffered for a handler
 * that awaits them (under the buffer limit: 413/500), chunk handlers and chunk replacement, local replies
 * (and the reset when one comes after the response headers went), trailers, per-route config merge,
 * config-time schema checks, failure policy and async budget, metrics, log levels, metadata, filter
 * state, attributes, ctx.fetch, the sync budget (the module's watchdog stops JS that runs too long). Not
 * modelled: routing (no route table: clearRouteCache and setUpstreamOverrideHost are only recorded), other
 * filters in the chain, flow control, route timeouts. process.exit() in filter code ends the test process
 * (inside Envoy it stops that worker's environment).
 * @module
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isFilterDefinition, type FilterDefinition } from '../filter';
import { isEsModule } from '../loader';
import { Clock, acquireGlobals, real, type Activity, type TestClock } from './clock';
import { KitEnv, LEVELS } from './env';
import { INLINE_MODULE, withInline } from './inline';
import { FakeStream, echo } from './stream';
import { addOwner, newTag, removeOwner } from './fake-envoy';
import { kit } from './native';
import type { FilterModule, FilterOptions, LogEntry, RunOptions, TestFilter, TestMetrics, TestResult } from './types';

export { createClock } from './clock';
export type { ClockOptions, TestClock } from './clock';
export type {
  AttributeOverrides,
  BodyInput,
  CalloutRecord,
  ClusterHandler,
  FilterModule,
  FilterOptions,
  HeadersInput,
  LocalReply,
  LogEntry,
  LogLevel,
  MetadataMap,
  MetadataValue,
  MetricSample,
  RunOptions,
  TestFilter,
  TestMetrics,
  TestRequest,
  TestResponse,
  TestResult,
  UpstreamHandler,
  UpstreamReply,
  UpstreamRequest,
} from './types';

/** A config Envoy would reject at config time (the filter's `config` or `routeConfig` schema failed, a bad bundle...). */
export class FilterConfigError extends Error {
  readonly code = 'ERR_NODEVOY_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'FilterConfigError';
  }
}

const DEFAULT_BUFFER_LIMIT = 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 10000;

/**
 * Loads a filter like Envoy does at config time: imports the bundle (or takes the definition), validates
 * `options.config` with the filter's `config` schema and `options.routeConfig` with its `routeConfig`
 * schema, and defines its metrics. Rejects with a FilterConfigError carrying the module's message, e.g.
 * `cannot load filter "auth" from /x/dist/index.js: filter_config.config does not match the filter's schema: ...`.
 * Run requests through the result with `run()`; its metrics and log accumulate across runs.
 */
export function loadFilter<C, R>(
  filter: FilterDefinition<C, R> | FilterModule,
  options: FilterOptions = {},
): Promise<TestFilter> {
  const clock = clockOf(options.clock);
  const release = clock || options.captureConsole ? acquireGlobals() : undefined;
  return loadImpl(filter as FilterDefinition<unknown, unknown> | FilterModule, options, clock).finally(() =>
    release?.(),
  );
}

/**
 * Loads the filter (see loadFilter) and sends one request through it; resolves once the stream completed
 * or was reset. Without `upstream`, the upstream answers 200 with a JSON echo of what it received
 * (`{ method, path, headers, body, trailers }`, as test/lib/harness.mjs's startUpstream).
 */
export function runFilter<C, R>(
  filter: FilterDefinition<C, R> | FilterModule,
  options: FilterOptions & RunOptions = {},
): Promise<TestResult> {
  const clock = clockOf(options.clock);
  const tracker = new Tracker();
  const untrack = clock?.track(tracker);
  const release = clock || options.captureConsole ? acquireGlobals() : undefined;
  return (async () => {
    const loaded = await loadImpl(filter as FilterDefinition<unknown, unknown> | FilterModule, options, clock);
    return loaded.runTracked({}, tracker);
  })().finally(() => {
    tracker.finished = true;
    untrack?.();
    release?.();
  });
}

function clockOf(clock: TestClock | undefined): Clock | undefined {
  if (clock === undefined) return undefined;
  if (!(clock instanceof Clock)) throw new TypeError('nodevoy/testing: `clock` must be made by createClock()');
  return clock;
}

/** What a clock waits on for one run: loading, then the stream's queue. */
class Tracker implements Activity {
  loading = true;
  stream?: FakeStream;
  finished = false;
  busy(): boolean {
    if (this.finished) return false;
    if (this.loading || !this.stream) return true;
    return this.stream.busy;
  }
}

function json(value: unknown, what: string): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(value);
  } catch (e) {
    throw new TypeError(`nodevoy/testing: ${what} must be JSON (${String(e)})`);
  }
  if (s === undefined) throw new TypeError(`nodevoy/testing: ${what} must be JSON`);
  return s;
}

/** The load itself reports an unreadable package.json, with the message Envoy would log. */
function esModuleOrNot(path: string): boolean {
  try {
    return isEsModule(path);
  } catch {
    return false;
  }
}

/**
 * The filter_config Envoy would be given (envoy-filter/filter_config.cc parses and checks it, with the
 * messages Envoy logs).
 */
function filterConfigJson(module: string, options: FilterOptions): string {
  const doc: Record<string, unknown> = { module };
  if (options.config !== undefined) doc.config = JSON.parse(json(options.config, '`config`'));
  if (options.failureMode !== undefined) doc.failure_mode = options.failureMode;
  if (options.failureStatus !== undefined) doc.failure_status = options.failureStatus;
  if (options.syncBudgetMs !== undefined) doc.sync_budget_ms = options.syncBudgetMs;
  if (options.asyncBudgetMs !== undefined) doc.async_budget_ms = options.asyncBudgetMs;
  if (options.jsTimeHistogram !== undefined) doc.js_time_histogram = options.jsTimeHistogram;
  return JSON.stringify(doc);
}

async function loadImpl(
  filter: FilterDefinition<unknown, unknown> | FilterModule,
  options: FilterOptions,
  clock: Clock | undefined,
): Promise<LoadedFilter> {
  const level = options.logLevel ?? 'info';
  if (!(level in LEVELS)) throw new TypeError(`nodevoy/testing: unknown logLevel "${String(level)}"`);
  const bufferLimit = options.bufferLimit ?? DEFAULT_BUFFER_LIMIT;
  if (!Number.isInteger(bufferLimit) || bufferLimit < 0)
    throw new RangeError('nodevoy/testing: bufferLimit must be a non-negative integer (0: no limit)');
  const { addon } = kit();
  let path: string;
  let name: string;
  let shown: string;
  if (isFilterDefinition(filter)) {
    name = options.filterName ?? 'filter';
    if (typeof name !== 'string') throw new FilterConfigError('filter_name is required: the exported filter to run');
    path = INLINE_MODULE;
    shown = '<inline definition>';
  } else {
    const f = filter as Partial<FilterModule> | null;
    if (typeof f !== 'object' || f === null || typeof f.module !== 'string' || typeof f.filterName !== 'string')
      throw new TypeError(
        'nodevoy/testing: the filter must be made by defineFilter(), or be { module: absolutePath, filterName }',
      );
    // As filter_config.cc: a relative path is relative to the working directory (Envoy's).
    path = f.module && !f.module.startsWith('/') ? resolve(f.module) : f.module;
    name = f.filterName;
    shown = path;
  }
  const env = new KitEnv(newTag(), name, LEVELS[level]);
  addOwner(env);
  env.runContext = {
    owner: env.owner,
    ...(clock ? { clock } : {}),
    ...(options.captureConsole ? { log: (l: number, m: string) => env.log(l, m) } : {}),
  };
  const configJson = filterConfigJson(path, options);
  const make = () => env.enter(() => addon.configNew(env.owner, name, configJson));
  if (isFilterDefinition(filter)) {
    env.configPtr = await withInline(name, filter, make);
  } else {
    // The kit's environment cannot turn the loop while a load waits: an ES module is imported once
    // ahead, so the module's own import finds it loaded.
    if (path && existsSync(path) && esModuleOrNot(path)) await import(pathToFileURL(path).href).catch(() => undefined);
    env.configPtr = await make();
  }
  if (!env.configPtr)
    throw new FilterConfigError(
      (env.configError || `cannot load filter "${name}" from ${shown}`).split(INLINE_MODULE).join(shown),
    );
  const loaded = new LoadedFilter(env, options, clock, bufferLimit);
  if (options.routeConfig !== undefined) await loaded.route(options.routeConfig);
  return loaded;
}

class LoadedFilter implements TestFilter {
  private readonly routeIds = new Map<string, Promise<{ ptr: number }>>();
  /** Runs not finished, and streams not destroyed yet (a timed-out run's stream is still being reset). */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly liveStreams = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly env: KitEnv,
    private readonly defaults: FilterOptions,
    private readonly clock: Clock | undefined,
    private readonly bufferLimit: number,
  ) {}

  get name(): string {
    return this.env.name;
  }

  get metrics(): TestMetrics {
    return this.env.metrics.snapshot();
  }

  get logs(): readonly LogEntry[] {
    return [...this.env.logs];
  }

  /** PerRouteConfig::create: checked against the filter's routeConfig schema once per config text. */
  route(config: unknown): Promise<{ ptr: number }> {
    const text = JSON.stringify({ config: config === undefined ? null : JSON.parse(json(config, '`routeConfig`')) });
    let r = this.routeIds.get(text);
    if (!r) {
      const env = this.env;
      env.configError = '';
      r = env
        .enter(() => kit().addon.routeConfigNew(env.owner, env.name, text))
        .then((ptr) => {
          if (!ptr)
            throw new FilterConfigError(env.configError || `per-route config for filter "${env.name}" rejected`);
          return { ptr };
        });
      r.catch(() => this.routeIds.delete(text));
      this.routeIds.set(text, r);
    }
    return r;
  }

  run(options: RunOptions = {}): Promise<TestResult> {
    if (this.closing) return Promise.reject(new Error(`nodevoy/testing: filter "${this.name}" is closed`));
    const tracker = new Tracker();
    const untrack = this.clock?.track(tracker);
    const release = this.clock || this.defaults.captureConsole ? acquireGlobals() : undefined;
    const running = this.runTracked(options, tracker).finally(() => {
      untrack?.();
      release?.();
      this.inFlight.delete(running);
    });
    this.inFlight.add(running);
    return running;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // Envoy destroys a config after its last stream; route configs go with their route table.
      await Promise.allSettled([...this.inFlight]);
      await Promise.allSettled([...this.liveStreams]);
      const env = this.env;
      const { addon } = kit();
      const routes = await Promise.allSettled([...this.routeIds.values()]);
      for (const r of routes)
        if (r.status === 'fulfilled') await env.enter(() => addon.routeConfigDestroy(env.owner, r.value.ptr));
      await env.enter(() => addon.configDestroy(env.owner, env.configPtr));
      removeOwner(env);
    })();
    return this.closing;
  }

  async runTracked(options: RunOptions, tracker: Tracker): Promise<TestResult> {
    const o: RunOptions = { ...this.defaults, ...options };
    try {
      const route = o.routeConfig !== undefined ? await this.route(o.routeConfig) : undefined;
      const stream = new FakeStream(this.env, {
        request: o.request ?? {},
        upstream: o.upstream ?? echo,
        clusters: o.clusters ?? {},
        attributes: o.attributes ?? {},
        metadata: o.metadata ?? {},
        filterState: o.filterState ?? {},
        bufferLimit: this.bufferLimit,
        ...(route ? { route } : {}),
        ...(this.clock ? { clock: this.clock } : {}),
      });
      tracker.stream = stream;
      tracker.loading = false;
      const logStart = this.env.logs.length;
      const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const guard = new Promise<never>((_, reject) => {
        if (timeoutMs > 0) {
          timer = real.setTimeout(() => {
            const pending = this.clock?.pending ?? 0;
            const hint = pending
              ? `; ${pending} timer(s) are pending on the test clock: advance it (clock.advance(ms), clock.runAll())`
              : '';
            reject(
              new Error(
                `nodevoy/testing: the request did not complete within ${timeoutMs} ms (real time): ${stream.waitingFor()}${hint}`,
              ),
            );
            stream.abandon();
          }, timeoutMs);
        }
      });
      const destroyed = stream.start();
      const forget = () => this.liveStreams.delete(destroyed);
      destroyed.then(forget, forget);
      this.liveStreams.add(destroyed);
      try {
        await Promise.race([destroyed, guard]);
      } finally {
        if (timer !== undefined) real.clearTimeout(timer);
      }
      return { ...stream.result(), metrics: this.env.metrics.snapshot(), logs: this.env.logs.slice(logStart) };
    } finally {
      tracker.finished = true;
    }
  }
}
