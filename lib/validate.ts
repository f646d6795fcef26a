import { InvalidHeaderError, InvalidResponseError } from './errors';

/** RFC 9110 token characters: a header name as fetch's Headers accepts it. */
export const HEADER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Pseudo-headers (":path") are allowed where Envoy allows them.
const TOKEN = new RegExp(`^:?${HEADER_TOKEN.source.slice(1)}`);
const BAD_VALUE = /[\r\n\0]/;

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return v === null ? 'null' : typeof v;
}

export function headerName(name: unknown): string {
  if (typeof name !== 'string' || !TOKEN.test(name))
    throw new InvalidHeaderError(`Expected a header name made of token characters but received ${describe(name)}`);
  return name.toLowerCase();
}

export function headerValue(name: string, value: unknown): string {
  if (typeof value !== 'string')
    throw new InvalidHeaderError(`Expected a string value for header '${name}' but received ${describe(value)}`);
  if (BAD_VALUE.test(value))
    throw new InvalidHeaderError(
      `Expected a value without CR, LF or NUL for header '${name}' but received ${describe(value)}`,
    );
  if (name.startsWith(':')) pseudoValue(name, value);
  return value;
}

// Pseudo-headers end up in the request or status line: a value that would break the line is refused.
const PSEUDO: Record<string, [RegExp, string]> = {
  ':status': [/^[1-5][0-9][0-9]$/, 'a status code from 100 to 599'],
  ':method': [/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'a method token'],
  ':path': [/^[^\s\x00-\x1f\x7f]+$/, 'a path without spaces or control characters'],
  ':scheme': [/^[A-Za-z][A-Za-z0-9+.-]*$/, 'a URI scheme'],
  ':authority': [/^[^\s\x00-\x1f\x7f/?#@]+$/, 'a host[:port] without spaces'],
};

function pseudoValue(name: string, value: string): void {
  const rule = Object.hasOwn(PSEUDO, name) ? PSEUDO[name] : undefined;
  if (rule && !rule[0].test(value))
    throw new InvalidHeaderError(`Expected ${rule[1]} for '${name}' but received ${describe(value)}`);
}

export function status(code: unknown, min = 200): number {
  if (typeof code !== 'number' || !Number.isInteger(code) || code < min || code > 599)
    throw new InvalidResponseError(`Expected an integer status from ${min} to 599 but received ${describe(code)}`);
  return code;
}

/** Bytes handed to native: a string or a live Uint8Array (a detached view, e.g. a chunk kept past its call, is refused). */
export function bytes(value: unknown, what: string): string | Uint8Array {
  if (typeof value === 'string') return value;
  if (!(value instanceof Uint8Array))
    throw new TypeError(`${what}: expected a string or Uint8Array but received ${describe(value)}`);
  if (value.byteLength === 0 && isDetached(value))
    throw new TypeError(
      `${what}: the Uint8Array's buffer is detached (a body chunk is only valid during its handler call; copy it to keep it)`,
    );
  return value;
}

function isDetached(view: Uint8Array): boolean {
  try {
    new Uint8Array(view.buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}
