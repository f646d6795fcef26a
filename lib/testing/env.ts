// The kit's NativeBinding: native/binding_impl.cc, js_env.cc and filter_config.cc in TypeScript. One
// environment per loaded filter (Envoy: one per worker, per filter config), with the filter's stats and
// the log.
import type { NativeBinding } from '../generated/binding';
import { LEVEL_NAMES, type Level, METRIC_KIND_NAMES, MetricOp } from '../generated/enums';
import { Outcome, type Phase, type RuntimeApi } from '../runtime';
import type { ModuleStream, ModuleEnv } from './module';
import { context, type RunContext } from './clock';
import type { FakeStream } from './stream';
import { concat, utf8 } from './http';
import type { LogEntry, MetricSample, TestMetrics } from './types';

/** Log levels by name, as the binding numbers them. */
export const LEVELS = Object.fromEntries(LEVEL_NAMES.map((n, i) => [n, i])) as Record<
  (typeof LEVEL_NAMES)[number],
  Level
>;
const MAX_SAFE = 9007199254740991;

type MetricType = MetricSample['type'];

interface MetricDef {
  type: MetricType;
  name: string;
  labels: readonly string[];
}

interface Series {
  def: MetricDef;
  values: readonly string[];
  value: number;
  samples: number[];
}

/** The stats of one filter config (the host's StatsStore, for one filter). */
export class MetricStore {
  private readonly series = new Map<string, Series>();

  constructor(private readonly prefix: string) {}

  record(def: MetricDef, values: readonly string[], op: 'add' | 'sub' | 'set' | 'record', v: number): void {
    const key = `${def.type}\0${def.name}\0${values.join('\0')}`;
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { def, values, value: 0, samples: [] }));
    if (op === 'record') {
      s.samples.push(v);
      s.value = s.samples.length;
    } else if (op === 'set') s.value = v;
    else if (op === 'sub') s.value -= v;
    else s.value += v;
  }

  snapshot(): TestMetrics {
    const all: MetricSample[] = [...this.series.values()].map((s) => {
      const labels: Record<string, string> = {};
      s.def.labels.forEach((l, i) => {
        labels[l] = s.values[i] as string;
      });
      const base = { type: s.def.type, name: s.def.name, labels, value: s.value };
      return s.def.type === 'histogram' ? { ...base, samples: [...s.samples] } : base;
    });
    const prefix = this.prefix;
    const find = (
      type: MetricType,
      name: string,
      labels: Readonly<Record<string, string>> = {},
    ): MetricSample | undefined => {
      const want = Object.entries(labels);
      const match = (n: string) =>
        all.find(
          (m) =>
            m.type === type &&
            m.name === n &&
            Object.keys(m.labels).length === want.length &&
            want.every(([k, v]) => m.labels[k] === v),
        );
      return match(name) ?? match(`${prefix}.${name}`);
    };
    return {
      all,
      counter: (name, labels) => find('counter', name, labels)?.value ?? 0,
      gauge: (name, labels) => find('gauge', name, labels)?.value,
      histogram: (name, labels) => find('histogram', name, labels)?.samples ?? [],
    };
  }
}

function codeError(message: string, code: string): Error {
  return Object.assign(new Error(`nodevoy: ${message}`), { code });
}

function wireSafe(values: readonly string[]): void {
  for (const s of values)
    if (/[\r\n\0]/.test(s)) throw new TypeError('nodevoy: header names and values must not contain CR, LF or NUL');
}

/** One environment: the runtime, the filter instance, its streams, stats and log. */
export class KitEnv implements NativeBinding, ModuleEnv {
  api!: RuntimeApi;
  index = -1;
  handlers = 0;
  name = '';
  readonly logs: LogEntry[] = [];
  metrics!: MetricStore;
  private metricDefs: MetricDef[] = [];
  private own!: { requests: MetricDef; errors: MetricDef; jsTime?: MetricDef };
  /** filter_config.js_time_histogram: nodevoy.js_time_us is defined and recorded only when set. */
  jsTimeHistogram = false;
  private readonly streams = new Map<number, ModuleStream>();
  private readonly fakes = new Map<number, FakeStream>();
  private nextStream = 1;
  private readonly routes = new Set<number>();

  failOpen = false;
  failureStatus = 500;
  /** Infinity unless the test sets syncBudgetMs (see FilterOptions.syncBudgetMs). */
  syncBudgetMs = Infinity;

  /** The async context calls into JS run in. */
  runContext: RunContext = {};

  constructor(private readonly logThreshold: number) {}

  enter<T>(fn: () => T): T {
    return context.run(this.runContext, fn);
  }

  /** FilterConfig::defineMetrics: nodevoy's own, then the filter's declarations (api.metrics). */
  defineMetrics(declarations: string): void {
    const full = (n: string) => `${this.name}.${n}`;
    this.metrics = new MetricStore(this.name);
    this.own = {
      requests: { type: 'counter', name: full('nodevoy.requests'), labels: [] },
      errors: { type: 'counter', name: full('nodevoy.errors'), labels: ['kind'] },
      ...(this.jsTimeHistogram
        ? { jsTime: { type: 'histogram', name: full('nodevoy.js_time_us'), labels: ['phase'] } as MetricDef }
        : {}),
    };
    const decls = JSON.parse(declarations) as { kind: number; name: string; labels: string[] }[];
    this.metricDefs = decls.map((d) => ({
      type: METRIC_KIND_NAMES[d.kind] ?? 'counter',
      name: full(d.name),
      labels: d.labels,
    }));
  }

  // ---- ModuleEnv ----

  addStream(s: ModuleStream): number {
    const id = this.nextStream++;
    this.streams.set(id, s);
    return id;
  }

  attach(id: number, fake: FakeStream): void {
    this.fakes.set(id, fake);
  }

  removeStream(id: number): void {
    this.streams.delete(id);
    this.fakes.delete(id);
  }

  ensureRoute(routeId: number, json: string): string {
    if (this.routes.has(routeId)) return '';
    let e: string;
    try {
      e = String(this.enter(() => this.api.route(this.index, routeId, json)));
    } catch (err) {
      e = String(err);
    }
    if (e) return e;
    this.routes.add(routeId);
    return '';
  }

  log(level: number, message: string): void {
    if (level <= 5 && this.logEnabled(level))
      this.logs.push({ level: LEVEL_NAMES[level] as LogEntry['level'], message: String(message) });
  }

  logError(message: string): void {
    this.log(4, message);
  }

  countRequest(): void {
    this.metrics.record(this.own.requests, [], 'add', 1);
  }

  countFailure(kind: string): void {
    this.metrics.record(this.own.errors, [kind], 'add', 1);
  }

  private copied = 0;

  countCopied(n: number): void {
    this.copied += n;
  }

  bytesCopiedToJs(): number {
    return this.copied;
  }

  /** The kit always tells the runtime of a stream's end at once, so there is nothing to watch. */
  watchClose(): void {}

  recordJsTime(phase: string, micros: number): void {
    if (this.own.jsTime) this.metrics.record(this.own.jsTime, [phase], 'record', micros);
  }

  // ---- NativeBinding ----

  private live(stream: number, kind = 0): FakeStream {
    const s = this.streams.get(stream);
    const f = this.fakes.get(stream);
    if (!s || !f || s.completed) throw codeError('the stream has already completed', 'ERR_NODEVOY_STREAM_CLOSED');
    if (kind > 3) throw new RangeError(`nodevoy: header kind must be 0..3, received ${kind}`);
    return f;
  }

  private direction(direction: number): 0 | 1 {
    if (direction !== 0 && direction !== 1)
      throw new RangeError(`nodevoy: direction must be 0 (request) or 1 (response), received ${direction}`);
    return direction;
  }

  registerApi(_api: object): void {
    // The kit calls createRuntime itself.
  }

  getHeader(stream: number, kind: number, name: string): string | undefined {
    return this.live(stream, kind).headerMap(kind)?.get(name);
  }

  getHeaderValues(stream: number, kind: number, name: string): string[] {
    return this.live(stream, kind).headerMap(kind)?.all(name) ?? [];
  }

  getHeaders(stream: number, kind: number): string[] {
    return (this.live(stream, kind).headerMap(kind)?.entries ?? []).flat();
  }

  setHeader(stream: number, kind: number, name: string, value: string): boolean {
    const m = this.live(stream, kind).headerMap(kind);
    wireSafe([name, value]);
    if (!m || name === '') return false;
    // Envoy 1.39 and 1.40 (measured): a zero-length value removes the header instead of setting it.
    if (value === '') m.remove(name);
    else m.set(name, value);
    return true;
  }

  addHeader(stream: number, kind: number, name: string, value: string): boolean {
    const m = this.live(stream, kind).headerMap(kind);
    wireSafe([name, value]);
    // Envoy 1.39 and 1.40 (measured): a zero-length value is not added.
    if (!m || name === '' || value === '') return false;
    m.add(name, value);
    return true;
  }

  removeHeader(stream: number, kind: number, name: string): boolean {
    const m = this.live(stream, kind).headerMap(kind);
    wireSafe([name]);
    if (!m || name === '') return false;
    m.remove(name);
    return true;
  }

  respond(stream: number, status: number, headers: string[], body: string | Uint8Array | null, details: string): void {
    this.live(stream);
    if (!(status >= 200 && status <= 599)) throw new RangeError(`nodevoy: status must be 200..599, received ${status}`);
    wireSafe(headers);
    this.streams.get(stream)?.recordReply({ status, headers: [...headers], body: utf8(body), details });
  }

  settle(stream: number, phase: number, outcome: number): void {
    const s = this.streams.get(stream);
    if (s && phase >= 0 && phase < 6 && outcome >= 0 && outcome <= Outcome.Timeout && outcome !== Outcome.Pending)
      s.settle(phase as Phase, outcome as Outcome);
  }

  readBody(stream: number, direction: number): Uint8Array | undefined {
    this.live(stream);
    return (this.streams.get(stream) as ModuleStream).readBody(this.direction(direction));
  }

  rewriteBody(stream: number, direction: number, op: number, data: string | Uint8Array | null): void {
    this.live(stream);
    const d = this.direction(direction);
    if (!(op >= 0 && op <= 2)) throw new RangeError(`nodevoy: body operation must be 0..2, received ${op}`);
    (this.streams.get(stream) as ModuleStream).rewriteBody(d, op, utf8(data));
  }

  replaceChunks(stream: number, direction: number, parts: ReadonlyArray<string | Uint8Array>): void {
    this.live(stream);
    const d = this.direction(direction);
    (this.streams.get(stream) as ModuleStream).replaceChunks(d, concat(parts.map((p) => utf8(p))));
  }

  metric(stream: number, index: number, op: number, labels: string[], value: number): void {
    this.live(stream);
    const def = this.metricDefs[index];
    if (
      !def ||
      labels.length !== def.labels.length ||
      !(op >= MetricOp.Add && op <= MetricOp.Record) ||
      !(value >= 0) ||
      value > MAX_SAFE
    )
      throw new RangeError(
        `nodevoy: metric call out of range: received index ${index} of ${this.metricDefs.length}, ${labels.length} label(s), op ${op}, value ${value}`,
      );
    const v = Math.trunc(value);
    if (def.type === 'counter') this.metrics.record(def, [...labels], 'add', v);
    else if (def.type === 'histogram') this.metrics.record(def, [...labels], 'record', v);
    else
      this.metrics.record(def, [...labels], op === MetricOp.Subtract ? 'sub' : op === MetricOp.Set ? 'set' : 'add', v);
  }

  callout(
    stream: number,
    cluster: string,
    headers: string[],
    body: string | Uint8Array | null,
    timeoutMs: number,
  ): number {
    const f = this.live(stream);
    wireSafe(headers);
    return f.startCallout(cluster, headers, utf8(body), timeoutMs);
  }

  attribute(stream: number, id: number, type: number): string | number | boolean | undefined {
    const f = this.live(stream);
    if (!(id >= 0 && id <= 67)) throw new RangeError(`nodevoy: attribute id must be 0..67, received ${id}`);
    const v = f.attribute(id);
    if (type === 1) return typeof v === 'number' ? v : undefined;
    if (type === 2) return typeof v === 'boolean' ? v : undefined;
    return typeof v === 'string' ? v : undefined;
  }

  getMetadata(stream: number, source: number, ns: string, key: string): string | number | boolean | undefined {
    const f = this.live(stream);
    if (!(source >= 0 && source <= 4))
      throw new RangeError(`nodevoy: metadata source must be 0..4, received ${source}`);
    return f.getMetadata(source, ns, key);
  }

  setMetadata(stream: number, ns: string, key: string, value: string | number | boolean): void {
    const f = this.live(stream);
    f.setMetadata(ns, key, typeof value === 'number' || typeof value === 'boolean' ? value : String(value));
  }

  getFilterState(stream: number, key: string): string | undefined {
    return this.live(stream).getFilterState(key);
  }

  setFilterState(stream: number, key: string, value: string | Uint8Array | null): boolean {
    this.live(stream).setFilterState(key, utf8(value));
    return true;
  }

  clearRouteCache(stream: number): void {
    this.live(stream).clearRouteCache();
  }

  setUpstreamOverrideHost(stream: number, host: string, strict: boolean): boolean {
    return this.live(stream).setUpstreamOverrideHost(host, strict);
  }

  logEnabled(level: number): boolean {
    return level >= this.logThreshold && level <= 5;
  }

  workerIndex(): number {
    return 0;
  }
}
