import type { NativeBinding } from './generated/binding';
import { StreamClosedError } from './errors';
import { headerName, headerValue } from './validate';

/** Which of Envoy's four header maps (values as in the ABI's http_header_type). */
export const enum HeaderKind {
  Request = 0,
  RequestTrailers = 1,
  Response = 2,
  ResponseTrailers = 3,
}

/** What the headers object needs from the stream it belongs to. */
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

  /** Every (name, value) pair, pseudo-headers included, in Envoy's order. */
  *entries(): IterableIterator<[string, string]> {
    const flat = this.native.getHeaders(this.live('entries'), this.kind);
    for (let i = 0; i + 1 < flat.length; i += 2) yield [flat[i] as string, flat[i + 1] as string];
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /** A plain object copy (last value wins), handy for logging. */
  toObject(): Record<string, string> {
    return Object.fromEntries(this.entries());
  }
}
