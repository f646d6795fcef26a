// nodevoy/testing: unit-test filters in plain Node, without Envoy.
//
// The kit runs lib/runtime.ts — the same JS that runs inside Envoy — against a TypeScript NativeBinding
// that behaves like the module's native half (envoy-filter/stream_filter.cc, ported in module.ts) on a
// fake Envoy stream (stream.ts: Envoy's filter iteration, the router with a fake upstream, a fake client).
//
//   import { runFilter } from 'nodevoy/testing';
//   const r = await runFilter(myFilter, { config: { greeting: 'hi' }, request: { path: '/x' } });
//   assert.equal(r.upstreamRequest?.headers['x-greeting'], 'hi');
import { format } from 'node:util';
import { createRuntime, type LoadState } from '../runtime';
import { isFilterDefinition, type FilterDefinition } from '../filter';
import { Clock, real, turn, type Activity, type TestClock } from './clock';
import { KitEnv, LEVELS } from './env';
import { INLINE_MODULE, withInline } from './inline';
import { FakeStream, echo } from './stream';
import type { FilterModule, FilterOptions, LogEntry, RunOptions, TestFilter, TestMetrics, TestResult } from './types';

export { createClock } from './clock';
export type { ClockOptions, TestClock } from './clock';
export type {
  AttributeOverrides, BodyInput, CalloutRecord, ClusterHandler, FilterModule, FilterOptions, HeadersInput, LocalReply, LogEntry,
  LogLevel, MetadataMap, MetadataValue, MetricSample, RunOptions, TestFilter, TestMetrics, TestRequest, TestResponse, TestResult,
  UpstreamHandler, UpstreamReply, UpstreamRequest,
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
export function loadFilter<C, R>(filter: FilterDefinition<C, R> | FilterModule, options: FilterOptions = {}): Promise<TestFilter> {
  const clock = clockOf(options.clock);
  const uninstall = clock?.install();
  return loadImpl(filter as FilterDefinition<unknown, unknown> | FilterModule, options, clock).finally(() => uninstall?.());
}

/**
 * Loads the filter (see loadFilter) and sends one request through it; resolves once the stream completed
 * or was reset. Without `upstream`, the upstream answers 200 with a JSON echo of what it received
 * (`{ method, path, headers, body, trailers }`, as test/lib/harness.mjs's startUpstream).
 */
export function runFilter<C, R>(filter: FilterDefinition<C, R> | FilterModule, options: FilterOptions & RunOptions = {}): Promise<TestResult> {
  const clock = clockOf(options.clock);
  const tracker = new Tracker();
  const untrack = clock?.track(tracker);
  const uninstall = clock?.install();
  return (async () => {
    const loaded = await loadImpl(filter as FilterDefinition<unknown, unknown> | FilterModule, options, clock);
    return loaded.runTracked({}, tracker);
  })().finally(() => {
    tracker.finished = true;
    untrack?.();
    uninstall?.();
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

async function loadImpl(filter: FilterDefinition<unknown, unknown> | FilterModule, options: FilterOptions, clock: Clock | undefined): Promise<LoadedFilter> {
  const level = options.logLevel ?? 'info';
  if (!(level in LEVELS)) throw new TypeError(`nodevoy/testing: unknown logLevel "${String(level)}"`);
  const bufferLimit = options.bufferLimit ?? DEFAULT_BUFFER_LIMIT;
  if (!Number.isInteger(bufferLimit) || bufferLimit < 0) throw new RangeError('nodevoy/testing: bufferLimit must be a non-negative integer (0: no limit)');
  const env = new KitEnv(LEVELS[level]);
  env.api = createRuntime(env);
  const configJson = options.config === undefined ? '{}' : json(options.config, '`config`');
  let path: string;
  let name: string;
  let state: LoadState;
  if (isFilterDefinition(filter)) {
    name = options.filterName ?? 'filter';
    if (!/^[A-Za-z_$][\w$.-]*$/.test(name)) throw new TypeError(`nodevoy/testing: filterName "${name}" is not a usable filter name`);
    path = '<inline definition>';
    env.name = name;
    state = await withInline(name, filter, () => waitLoaded(env.api.load(INLINE_MODULE, name, configJson)));
  } else {
    const f = filter as Partial<FilterModule> | null;
    if (typeof f !== 'object' || f === null || typeof f.module !== 'string' || typeof f.filterName !== 'string')
      throw new TypeError('nodevoy/testing: the filter must be made by defineFilter(), or be { module: absolutePath, filterName }');
    path = f.module;
    name = f.filterName;
    env.name = name;
    state = await waitLoaded(env.api.load(path, name, configJson));
  }
  if (state.error || state.index < 0) throw new FilterConfigError(`cannot load filter "${name}" from ${path}: ${state.error || 'the bundle loaded but produced no filter'}`);
  env.index = state.index;
  env.handlers = state.handlers;
  env.defineMetrics(env.api.metrics(state.index));
  const loaded = new LoadedFilter(env, options, clock, bufferLimit);
  if (options.routeConfig !== undefined) await loaded.route(options.routeConfig);
  return loaded;
}

let consoleOwner: { env: KitEnv; count: number; saved: Record<string, unknown> } | undefined;

function captureConsole(env: KitEnv): () => void {
  if (consoleOwner && consoleOwner.env !== env) throw new Error('nodevoy/testing: captureConsole runs of different filters must not overlap');
  if (consoleOwner) {
    consoleOwner.count++;
  } else {
    const c = console as unknown as Record<string, unknown>;
    const levels = { trace: 0, debug: 1, log: 2, info: 2, warn: 3, error: 4 } as const;
    const saved: Record<string, unknown> = {};
    for (const [method, level] of Object.entries(levels)) {
      saved[method] = c[method];
      c[method] = (...args: unknown[]) => {
        if (env.logEnabled(level)) env.log(level, `[console] ${format(...args)}`);
      };
    }
    consoleOwner = { env, count: 1, saved };
  }
  let done = false;
  return () => {
    if (done || !consoleOwner) return;
    done = true;
    if (--consoleOwner.count > 0) return;
    Object.assign(console as unknown as Record<string, unknown>, consoleOwner.saved);
    consoleOwner = undefined;
  };
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
      return Promise.reject(new FilterConfigError('per-route filter_config.config must be a JSON object (the fields it overrides)'));
    const text = json(config, '`routeConfig`');
    let r = this.routeIds.get(text);
    if (!r) {
      const id = this.routeIds.size + 1;
      r = waitLoaded(this.env.api.checkRoute(this.env.name, '', text)).then((state) => {
        if (state.error) throw new FilterConfigError(`per-route config for filter "${this.env.name}" rejected: ${state.error}`);
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
    const uninstall = this.clock?.install();
    return this.runTracked(options, tracker).finally(() => {
      untrack?.();
      uninstall?.();
    });
  }

  async runTracked(options: RunOptions, tracker: Tracker): Promise<TestResult> {
    const o: RunOptions = { ...this.defaults, ...options };
    let uncapture: (() => void) | undefined;
    try {
      const route = o.routeConfig !== undefined ? await this.route(o.routeConfig) : undefined;
      uncapture = this.defaults.captureConsole ? captureConsole(this.env) : undefined;
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
            const hint = pending ? `; ${pending} timer(s) are pending on the test clock: advance it (clock.advance(ms), clock.runAll())` : '';
            reject(new Error(`nodevoy/testing: the request did not complete within ${timeoutMs} ms (real time): ${stream.waitingFor()}${hint}`));
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
      uncapture?.();
    }
  }
}
