import type { NativeBinding } from './generated/binding';
import type { StreamHandle } from './headers';
import { StreamClosedError, nativeError } from './errors';
import { bytes as checkBytes } from './validate';
import { BodyOp } from './generated/enums';

/** One body chunk as it arrives. */
export interface BodyChunk {
  /** Zero-copy view of Envoy's bytes: valid only during the handler call (detached afterwards). Copy to keep. */
  readonly bytes: Uint8Array;
  /** This is the last chunk of the body (false for every chunk when trailers follow). */
  readonly end: boolean;
  /** The chunk decoded as UTF-8 (a copy). */
  text(): string;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** @internal */
export function makeChunk(bytes: Uint8Array, end: boolean): BodyChunk {
  return { bytes, end, text: () => decoder.decode(bytes) };
}

/** @internal 0 request, 1 response. */
export type Direction = 0 | 1;

const REWRITES = ['replace', 'append', 'prepend'] as const;

/**
 * A request or response body, whole. Reading buffers it in Envoy (under the listener's buffer limit: a larger
 * body ends in 413 for requests, 500 for responses, as in Envoy) and resolves with a copy the handler may
 * keep. Only the headers handler of the same direction may read or rewrite it, before it returns or settles;
 * the stream waits for it.
 */
export class Body {
  private copy?: Uint8Array;
  private waiting?: { promise: Promise<Uint8Array>; resolve(v: Uint8Array): void; reject(e: unknown): void };

  /** @internal */
  constructor(
    private readonly native: NativeBinding,
    private readonly stream: StreamHandle,
    private readonly direction: Direction,
  ) {}

  /** The whole body (a copy). */
  bytes(): Promise<Uint8Array> {
    if (this.copy) return Promise.resolve(this.copy);
    if (this.waiting) return this.waiting.promise;
    if (this.stream.closed) return Promise.reject(new StreamClosedError('body.bytes'));
    let now: Uint8Array | undefined;
    try {
      now = this.native.readBody(this.stream.id, this.direction);
    } catch (e) {
      return Promise.reject(nativeError(e, 'body.bytes'));
    }
    if (now) {
      this.copy = now;
      return Promise.resolve(now);
    }
    this.native.watchClose(this.stream.id);
    let resolve!: (v: Uint8Array) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<Uint8Array>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.waiting = { promise, resolve, reject };
    return promise;
  }

  /** The whole body decoded as UTF-8. */
  async text(): Promise<string> {
    return decoder.decode(await this.bytes());
  }

  /** The whole body parsed as JSON. */
  async json<T = unknown>(): Promise<T> {
    return JSON.parse(await this.text()) as T;
  }

  /** Replaces the body (content-length follows). The body must have fully arrived: await bytes() first. */
  replace(data: string | Uint8Array): void {
    this.rewrite(BodyOp.Replace, data);
  }

  append(data: string | Uint8Array): void {
    this.rewrite(BodyOp.Append, data);
  }

  prepend(data: string | Uint8Array): void {
    this.rewrite(BodyOp.Prepend, data);
  }

  /** Empties the body. */
  clear(): void {
    this.rewrite(BodyOp.Replace, '', 'body.clear');
  }

  private rewrite(op: BodyOp, data: string | Uint8Array, what = `body.${REWRITES[op]}`): void {
    const checked = checkBytes(data, what);
    if (this.stream.closed) throw new StreamClosedError(what);
    try {
      this.native.rewriteBody(this.stream.id, this.direction, op, checked);
    } catch (e) {
      throw nativeError(e, what);
    }
    this.copy = undefined;
  }

  /** @internal The body arrived (native delivers it while the stream waits). */
  deliver(bytes: Uint8Array): void {
    this.copy = bytes;
    this.waiting?.resolve(bytes);
    this.waiting = undefined;
  }

  /** @internal The stream ended first. */
  abort(e: unknown): void {
    this.waiting?.reject(e);
    this.waiting = undefined;
  }
}

/** @internal One array holding `parts` in order. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** @internal */
export function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? encoder.encode(data) : data;
}
