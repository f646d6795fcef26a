import type { NativeBinding } from './generated/binding';
import { MetricKind, MetricOp } from './generated/enums';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDeclaration {
  readonly type: MetricType;
  /** Label (tag) names; every record must give a value for each. */
  readonly labels?: readonly string[];
}

/** Metrics a filter declares, by name. */
export type MetricDeclarations = Readonly<Record<string, MetricDeclaration>>;

export type Labels = Readonly<Record<string, string>>;

/**
 * One metric of a filter whose declarations are not known to the type checker (a `FilterContext` written
 * without its metric declarations). Counters take `inc`; gauges `inc`, `dec` and `set`; histograms `record`.
 * Values are non-negative integers (Envoy's stats are unsigned). Labels go by name.
 */
export interface Metric {
  inc(by?: number, labels?: Labels): void;
  dec(by?: number, labels?: Labels): void;
  set(value: number, labels?: Labels): void;
  record(value: number, labels?: Labels): void;
}

/** The label argument a declaration asks for: none, or an object with exactly its label names. */
export type LabelArgs<D extends MetricDeclaration> = D extends { readonly labels: readonly (infer L extends string)[] }
  ? [L] extends [never]
    ? []
    : string extends L
      ? [labels: Labels]
      : [labels: { readonly [K in L]: string }]
  : [];

// Each handle also names the methods its type lacks, with `never` parameters: calling one does not compile,
// and a typed handle still fits where an untyped `Metric` is expected (a helper typed `FilterContext<C>`).
export interface Counter<A extends unknown[] = [labels?: Labels]> {
  inc(by?: number, ...labels: A): void;
  /** Not a counter operation. */ dec(by: never, labels?: never): void;
  /** Not a counter operation. */ set(value: never, labels?: never): void;
  /** Not a counter operation. */ record(value: never, labels?: never): void;
}
export interface Gauge<A extends unknown[] = [labels?: Labels]> {
  inc(by?: number, ...labels: A): void;
  dec(by?: number, ...labels: A): void;
  set(value: number, ...labels: A): void;
  /** Not a gauge operation. */ record(value: never, labels?: never): void;
}
export interface Histogram<A extends unknown[] = [labels?: Labels]> {
  record(value: number, ...labels: A): void;
  /** Not a histogram operation. */ inc(by: never, labels?: never): void;
  /** Not a histogram operation. */ dec(by: never, labels?: never): void;
  /** Not a histogram operation. */ set(value: never, labels?: never): void;
}

/** The handle for one declaration: a counter, gauge or histogram taking exactly its labels. */
export type MetricOf<D extends MetricDeclaration> = D['type'] extends 'counter'
  ? Counter<LabelArgs<D>>
  : D['type'] extends 'gauge'
    ? Gauge<LabelArgs<D>>
    : D['type'] extends 'histogram'
      ? Histogram<LabelArgs<D>>
      : Metric;

/**
 * `ctx.metrics` for a filter's declarations: one typed handle per declared name (a typo, a wrong method
 * or a wrong label is a compile error). Without known declarations, a record of untyped `Metric`s.
 */
export type MetricsOf<M extends MetricDeclarations> = string extends keyof M
  ? Readonly<Record<string, Metric>>
  : { readonly [K in keyof M]: MetricOf<M[K]> };

const KIND: Record<MetricType, MetricKind> = {
  counter: MetricKind.Counter,
  gauge: MetricKind.Gauge,
  histogram: MetricKind.Histogram,
};
const NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;

/** @internal Checks declarations at load time; the JSON native defines them from, in declaration order. */
export function metricDeclarationsJson(decls: MetricDeclarations | undefined): string {
  const out: { kind: number; name: string; labels: readonly string[] }[] = [];
  for (const [name, d] of Object.entries(decls ?? {})) {
    if (!NAME.test(name)) throw new TypeError(`metric name "${name}" must be letters, digits, '_' and '.'`);
    if (!d || !(d.type in KIND)) throw new TypeError(`metric "${name}" needs type "counter", "gauge" or "histogram"`);
    const labels = d.labels ?? [];
    for (const l of labels)
      if (typeof l !== 'string' || !NAME.test(l))
        throw new TypeError(`metric "${name}" has a bad label name ${JSON.stringify(l)}`);
    out.push({ kind: KIND[d.type], name, labels });
  }
  return JSON.stringify(out);
}

/** @internal Per-stream metric handles (a metric is recorded through the stream, as the ABI requires). */
export function makeMetrics(
  native: NativeBinding,
  stream: { readonly id: number },
  decls: MetricDeclarations | undefined,
): Readonly<Record<string, Metric>> {
  const out: Record<string, Metric> = {};
  let index = 0;
  for (const [name, d] of Object.entries(decls ?? {})) {
    const i = index++;
    const labelNames = d.labels ?? [];
    const values = (labels: Labels | undefined): string[] => {
      if (labelNames.length === 0) return [];
      if (!labels) throw new TypeError(`metric "${name}" needs labels ${labelNames.join(', ')}`);
      return labelNames.map((l) => {
        const v = labels[l];
        if (typeof v !== 'string') throw new TypeError(`metric "${name}": label "${l}" must be a string`);
        return v;
      });
    };
    const record = (op: MetricOp, allowed: MetricType[], value: number, labels: Labels | undefined, what: string) => {
      if (!allowed.includes(d.type)) throw new TypeError(`metric "${name}" is a ${d.type}: ${what}() does not apply`);
      if (!Number.isInteger(value) || value < 0)
        throw new RangeError(`metric "${name}": expected a non-negative integer but received ${value}`);
      native.metric(stream.id, i, op, values(labels), value);
    };
    out[name] = {
      inc: (by = 1, labels) => record(MetricOp.Add, ['counter', 'gauge'], by, labels, 'inc'),
      dec: (by = 1, labels) => record(MetricOp.Subtract, ['gauge'], by, labels, 'dec'),
      set: (value, labels) => record(MetricOp.Set, ['gauge'], value, labels, 'set'),
      record: (value, labels) => record(MetricOp.Record, ['histogram'], value, labels, 'record'),
    };
  }
  return Object.freeze(out);
}
