// Envoy-side data structures of the fake stream: a header map with Envoy's semantics and a body buffer
// made of slices.
import { concat } from '../body';

export { concat };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function utf8(data: string | Uint8Array | null | undefined): Uint8Array {
  if (data === null || data === undefined) return new Uint8Array(0);
  return typeof data === 'string' ? encoder.encode(data) : new Uint8Array(data);
}

export function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** An ordered multimap of lower-case names, as Envoy's header maps (pseudo-headers first). */
export class HeaderList {
  readonly entries: [string, string][];

  constructor(init: Iterable<readonly [string, string]> = []) {
    this.entries = [...init].map(([k, v]) => [k.toLowerCase(), v]);
  }

  get size(): number {
    return this.entries.length;
  }

  get(name: string): string | undefined {
    for (const [k, v] of this.entries) if (k === name) return v;
    return undefined;
  }

  all(name: string): string[] {
    return this.entries.filter(([k]) => k === name).map(([, v]) => v);
  }

  /** Replaces the first value and drops the others, or appends. */
  set(name: string, value: string): void {
    const k = name.toLowerCase();
    const i = this.entries.findIndex(([n]) => n === k);
    if (i < 0) {
      this.entries.push([k, value]);
      return;
    }
    this.entries[i] = [k, value];
    for (let j = this.entries.length - 1; j > i; j--)
      if ((this.entries[j] as [string, string])[0] === k) this.entries.splice(j, 1);
  }

  add(name: string, value: string): void {
    this.entries.push([name.toLowerCase(), value]);
  }

  remove(name: string): void {
    const k = name.toLowerCase();
    for (let j = this.entries.length - 1; j >= 0; j--)
      if ((this.entries[j] as [string, string])[0] === k) this.entries.splice(j, 1);
  }

  clone(): HeaderList {
    return new HeaderList(this.entries);
  }

  /** Regular headers (no pseudo-headers) as pairs. */
  regular(): [string, string][] {
    return this.entries.filter(([k]) => !k.startsWith(':')).map(([k, v]) => [k, v]);
  }

  /** Regular headers as an object; repeated names are joined with ", " (as node:http does). */
  record(): Record<string, string> {
    return toRecord(this.regular());
  }
}

export function toRecord(pairs: readonly (readonly [string, string])[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of pairs) out[k] = k in out ? `${out[k]}, ${v}` : v;
  return out;
}

/** A body buffer: a list of slices (Envoy's Buffer::Instance, as far as filters can tell). */
export class Chunks {
  slices: Uint8Array[] = [];
  size = 0;

  static of(bytes: Uint8Array): Chunks {
    const c = new Chunks();
    c.append(bytes);
    return c;
  }

  get empty(): boolean {
    return this.size === 0;
  }

  append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.slices.push(bytes);
    this.size += bytes.length;
  }

  /** Moves every slice of `other` to the end of this buffer. */
  take(other: Chunks): void {
    for (const s of other.slices) this.append(s);
    other.clear();
  }

  drain(n: number): void {
    let left = Math.min(n, this.size);
    this.size -= left;
    while (left > 0 && this.slices.length) {
      const s = this.slices[0] as Uint8Array;
      if (s.length <= left) {
        left -= s.length;
        this.slices.shift();
      } else {
        this.slices[0] = s.subarray(left);
        left = 0;
      }
    }
  }

  clear(): void {
    this.slices = [];
    this.size = 0;
  }

  bytes(): Uint8Array {
    return concat(this.slices);
  }
}
