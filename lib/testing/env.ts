// What the fake Envoy keeps for one loaded filter (one filter config): its stats, as Envoy's stats store
// would (the module defines them at config time), its log, and the async context its runs use.
import { LEVEL_NAMES, Level } from '../generated/enums';
import { context, type RunContext } from './clock';
import type { LogEntry, MetricSample, TestMetrics } from './types';

/** Log levels by name, as the binding numbers them. */
export const LEVELS = Object.fromEntries(LEVEL_NAMES.map((n, i) => [n, i])) as Record<
  (typeof LEVEL_NAMES)[number],
  Level
>;

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

/** One loaded filter: the owner of its filter config (its envoy pointer), its stats and its log. */
export class KitEnv {
  readonly logs: LogEntry[] = [];
  readonly metrics: MetricStore;
  private readonly metricDefs: MetricDef[] = [];
  /** The module's filter config (its pointer), once made. */
  configPtr = 0;
  /** The rejection the module logged while this filter's config was made ('' if none). */
  configError = '';
  /** The async context calls into JS run in. */
  runContext: RunContext = {};

  constructor(
    /** The number the fake Envoy knows this filter by: its filter config's envoy pointer. */
    readonly owner: number,
    readonly name: string,
    private readonly logThreshold: number,
  ) {
    this.metrics = new MetricStore(name);
  }

  enter<T>(fn: () => T): T {
    return context.run(this.runContext, fn);
  }

  logEnabled(level: number): boolean {
    return level >= this.logThreshold && level <= Level.Critical;
  }

  log(level: number, message: string): void {
    const m = String(message);
    const rejected = /^nodevoy: rejecting (?:per-route )?(?:filter )?config: /.exec(m);
    if (rejected) this.configError = m.slice(rejected[0].length);
    if (this.logEnabled(level)) this.logs.push({ level: LEVEL_NAMES[level] as LogEntry['level'], message: m });
  }

  /** define_counter/gauge/histogram: the id the module records with, or -1. */
  defineMetric(kind: string, name: string, labels: readonly string[]): number {
    if (kind !== 'counter' && kind !== 'gauge' && kind !== 'histogram') return -1;
    this.metricDefs.push({ type: kind, name, labels: [...labels] });
    return this.metricDefs.length - 1;
  }

  /** increment_counter, the gauge calls and record_histogram_value; false for an unknown id or label count. */
  metric(op: string, id: number, values: readonly string[], value: number): boolean {
    const def = this.metricDefs[id];
    if (!def || values.length !== def.labels.length) return false;
    if (def.type === 'histogram') this.metrics.record(def, [...values], 'record', value);
    else if (def.type === 'counter') this.metrics.record(def, [...values], 'add', value);
    else this.metrics.record(def, [...values], op === 'sub' ? 'sub' : op === 'set' ? 'set' : 'add', value);
    return true;
  }
}
