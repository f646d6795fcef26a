import type { NativeBinding } from './generated/binding';
import { StreamClosedError } from './errors';
import { headerName, headerValue } from './validate';

import { HeaderKind } from './generated/enums';

/** @internal Which of Envoy's four header maps (values as in the ABI's http_header_type). */
export { HeaderKind };

/** @internal What the headers object needs from the stream it belongs to. */
export interface StreamHandle {
  readonly id: number;
  readonly closed: boolean;
}

/**
 * Envoy's header map seen through a web-standard Headers-like object. Nothing is copied ahead:
 * each call reads or writes Envoy's map directly, so a handler pays only for the headers it touches.
 */
export class HeaderMap implements Iterable<[string, string]> {
  /** @internal */
  constructor(
    private readonly native: NativeBinding,
    private readonly stream: StreamHandle,
    private readonly kind: HeaderKind,
  ) {}

  private live(what: string): number {
    if (this.stream.closed) throw new StreamClosedError(`headers.${what}`);
    return this.stream.id;
  }

  /** The first value of `name`, or null (as web Headers does). */
  get(name: string): string | null {
    return this.native.getHeader(this.live('get'), this.kind, headerName(name)) ?? null;
  }

  /** Every value of `name`, in order. */
  getAll(name: string): string[] {
    return this.native.getHeaderValues(this.live('getAll'), this.kind, headerName(name));
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }

  /** Replaces every value of `name`. */
  set(name: string, value: string): void {
    const n = headerName(name);
    this.native.setHeader(this.live('set'), this.kind, n, headerValue(n, value));
  }

  /** Adds a value, keeping the existing ones. */
  append(name: string, value: string): void {
    const n = headerName(name);
    this.native.addHeader(this.live('append'), this.kind, n, headerValue(n, value));
  }

  delete(name: string): void {
    this.native.removeHeader(this.live('delete'), this.kind, headerName(name));
  }

  /**
   * Every [name, value] pair exactly as Envoy holds them: pseudo-headers (`:path`, `:status`…) included,
   * a repeated name once per value, in Envoy's order.
   */
  raw(): Array<[string, string]> {
    const flat = this.native.getHeaders(this.live('raw'), this.kind);
    const out: Array<[string, string]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
    return out;
  }

  /**
   * Iteration as web `Headers` does it: regular headers only (pseudo-headers are read with `get(':path')`,
   * or `raw()`), names in sorted order, the values of a repeated name joined with ", " — except
   * `set-cookie`, which yields one pair per value.
   */
  *entries(): IterableIterator<[string, string]> {
    const byName = new Map<string, string[]>();
    for (const [k, v] of this.raw()) {
      if (k.startsWith(':')) continue;
      const values = byName.get(k);
      if (values) values.push(v);
      else byName.set(k, [v]);
    }
    for (const name of [...byName.keys()].sort()) {
      const values = byName.get(name) as string[];
      if (name === 'set-cookie') for (const v of values) yield [name, v];
      else yield [name, values.join(', ')];
    }
  }

  /** Header names as `entries()` yields them. */
  *keys(): IterableIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  /** Header values as `entries()` yields them. */
  *values(): IterableIterator<string> {
    for (const [, v] of this.entries()) yield v;
  }

  /** Calls `fn(value, name, this)` for each pair of `entries()`, as `Headers.forEach` does. */
  forEach(fn: (value: string, name: string, headers: HeaderMap) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /** A plain object copy of `raw()` (pseudo-headers included, last value wins), handy for logging. */
  toObject(): Record<string, string> {
    return Object.fromEntries(this.raw());
  }
}
