import { InvalidHeaderError, InvalidResponseError } from './errors';

// RFC 9110 token characters; pseudo-headers (":path") are allowed where Envoy allows them.
const TOKEN = /^:?[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
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
    throw new InvalidHeaderError(`Expected a value without CR, LF or NUL for header '${name}' but received ${describe(value)}`);
  return value;
}

export function status(code: unknown, min = 200): number {
  if (typeof code !== 'number' || !Number.isInteger(code) || code < min || code > 599)
    throw new InvalidResponseError(`Expected an integer status from ${min} to 599 but received ${describe(code)}`);
  return code;
}

/** Bytes handed to native: a string or a live Uint8Array (a detached view, e.g. a chunk kept past its call, is refused). */
export function bytes(value: unknown, what: string): string | Uint8Array {
  if (typeof value === 'string') return value;
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what}: expected a string or Uint8Array but received ${describe(value)}`);
  if (value.byteLength === 0 && isDetached(value)) throw new TypeError(`${what}: the Uint8Array's buffer is detached (a body chunk is only valid during its handler call; copy it to keep it)`);
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
