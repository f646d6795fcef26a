/**
 * nodevoy/testing: unit-test filters in plain Node, without Envoy.
 *
 * The kit runs lib/runtime.ts — the same JS that runs inside Envoy — against a TypeScript NativeBinding
 * that behaves like the module's native half (envoy-filter/stream_filter.cc, ported in module.ts) on a
 * fake Envoy stream (stream.ts: Envoy's filter iteration for the one filter, the router with a fake
 * upstream, a fake HTTP/1.1 client, stream info, http callouts to fake clusters).
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
 * state, attributes, ctx.fetch. Not modelled: routing (no route table: clearRouteCache and
 * setUpstreamOverrideHost are only recorded), other filters in the chain, flow control, route timeouts,
 * and stopping JS mid-way (see FilterOptions.syncBudgetMs). process.exit() in filter code ends the test
 * process (inside Envoy it stops that worker's environment).
 * @module
 */
import { resolve } from 'node:path';
import { createRuntime, type LoadState } from '../runtime';
import { isFilterDefinition, type FilterDefinition } from '../filter';
import { Clock, acquireGlobals, real, turn, type Activity, type TestClock } from './clock';
import { KitEnv, LEVELS } from './env';
import { INLINE_MODULE, withInline } from './inline';
import { FakeStream, echo } from './stream';
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

async function waitLoaded(state: LoadState): Promise<LoadState> {
  const deadline = real.Date.now() + 30000;
  while (!state.done) {
    if (real.Date.now() > deadline) throw new FilterConfigError('loading the filter did not finish within 30 s');
    await turn();
  }
  return state;
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
  const env = new KitEnv(LEVELS[level]);
  applyPolicy(env, options);
  const asyncBudgetMs = options.asyncBudgetMs ?? 15000;
  env.runContext = {
    ...(clock ? { clock } : {}),
    ...(options.captureConsole ? { log: (l: number, m: string) => env.log(l, m) } : {}),
  };
  env.api = createRuntime(env);
  const configJson = options.config === undefined ? '{}' : json(options.config, '`config`');
  let path: string;
  let name: string;
  let state: LoadState;
  if (isFilterDefinition(filter)) {
    name = options.filterName ?? 'filter';
    if (typeof name !== 'string' || name === '')
      throw new FilterConfigError('filter_name is required: the exported filter to run');
    path = '<inline definition>';
    env.name = name;
    state = await withInline(name, filter, () =>
      waitLoaded(env.enter(() => env.api.load(INLINE_MODULE, name, configJson, asyncBudgetMs))),
    );
  } else {
    const f = filter as Partial<FilterModule> | null;
    if (typeof f !== 'object' || f === null || typeof f.module !== 'string' || typeof f.filterName !== 'string')
      throw new TypeError(
        'nodevoy/testing: the filter must be made by defineFilter(), or be { module: absolutePath, filterName }',
      );
    // As filter_config.cc: a relative path is relative to the working directory (Envoy's).
    path = f.module && !f.module.startsWith('/') ? resolve(f.module) : f.module;
    name = f.filterName;
    if (name === '') throw new FilterConfigError('filter_name is required: the exported filter to run');
    if (path === '')
      throw new FilterConfigError('filter_config.module is required: the absolute path of the compiled filter bundle');
    env.name = name;
    state = await waitLoaded(env.enter(() => env.api.load(path, name, configJson, asyncBudgetMs)));
  }
  if (state.error || state.index < 0)
    throw new FilterConfigError(
      `cannot load filter "${name}" from ${path}: ${state.error || 'the bundle loaded but produced no filter'}`,
    );
  env.index = state.index;
  env.handlers = state.handlers;
  env.defineMetrics(env.enter(() => env.api.metrics(state.index)));
  const loaded = new LoadedFilter(env, options, clock, bufferLimit);
  if (options.routeConfig !== undefined) await loaded.route(options.routeConfig);
  return loaded;
}

/** FilterConfig::parsePolicy: the failure policy and budgets of filter_config, with its messages. */
function applyPolicy(env: KitEnv, o: FilterOptions): void {
  if (o.failureMode !== undefined) {
    if (o.failureMode !== 'fail_closed' && o.failureMode !== 'fail_open')
      throw new FilterConfigError('filter_config.failure_mode must be "fail_closed" or "fail_open"');
    env.failOpen = o.failureMode === 'fail_open';
  }
  const number = (key: string, v: number | undefined, lo: number, hi: number): number | undefined => {
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || v < lo || v > hi)
      throw new FilterConfigError(`filter_config.${key} must be an integer from ${lo} to ${hi}`);
    return v;
  };
  env.failureStatus = number('failure_status', o.failureStatus, 200, 599) ?? env.failureStatus;
  env.syncBudgetMs = number('sync_budget_ms', o.syncBudgetMs, 1, 60000) ?? env.syncBudgetMs;
  number('async_budget_ms', o.asyncBudgetMs, 1, 3600000);
  if (o.jsTimeHistogram !== undefined && typeof o.jsTimeHistogram !== 'boolean')
    throw new FilterConfigError('filter_config.js_time_histogram must be true or false');
  env.jsTimeHistogram = o.jsTimeHistogram ?? false;
}

class LoadedFilter implements TestFilter {
  private readonly routeIds = new Map<string, Promise<{ id: number; json: string }>>();

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

  /** PerRouteConfig::create: checked against the filter's routeConfig schema once, then known by id. */
  route(config: unknown): Promise<{ id: number; json: string }> {
    if (typeof config !== 'object' || config === null || Array.isArray(config))
      return Promise.reject(
        new FilterConfigError('per-route filter_config.config must be a JSON object (the fields it overrides)'),
      );
    const text = json(config, '`routeConfig`');
    let r = this.routeIds.get(text);
    if (!r) {
      const id = this.routeIds.size + 1;
      r = waitLoaded(this.env.enter(() => this.env.api.checkRoute(this.env.name, '', text))).then((state) => {
        if (state.error)
          throw new FilterConfigError(`per-route config for filter "${this.env.name}" rejected: ${state.error}`);
        return { id, json: text };
      });
      r.catch(() => this.routeIds.delete(text));
      this.routeIds.set(text, r);
    }
    return r;
  }

  run(options: RunOptions = {}): Promise<TestResult> {
    const tracker = new Tracker();
    const untrack = this.clock?.track(tracker);
    const release = this.clock || this.defaults.captureConsole ? acquireGlobals() : undefined;
    return this.runTracked(options, tracker).finally(() => {
      untrack?.();
      release?.();
    });
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
      try {
        await Promise.race([stream.start(), guard]);
      } finally {
        if (timer !== undefined) real.clearTimeout(timer);
      }
      return { ...stream.result(), metrics: this.env.metrics.snapshot(), logs: this.env.logs.slice(logStart) };
    } finally {
      tracker.finished = true;
    }
  }
}
