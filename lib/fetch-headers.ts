// ctx.fetch's fast path: the callout headers of the common call, built without the web Request.
import type { FetchInit } from './filter';
import { HEADER_TOKEN } from './validate';

const FETCH_METHODS: Record<string, string> = {
  delete: 'DELETE',
  get: 'GET',
  head: 'HEAD',
  options: 'OPTIONS',
  post: 'POST',
  put: 'PUT',
};
const SIMPLE_INIT_KEYS = new Set(['method', 'headers', 'timeoutMs', 'signal']);
const FETCH_PLAIN_VALUE = /^[\t\x20-\x7e]*$/; // printable ASCII: nothing Request would convert or refuse

/**
 * The callout's headers for the common call, a path or URL with at most a method and a plain header record
 * and no body, built without the web Request (a Request, its Headers and a second URL cost more than the
 * callout itself). Follows what Request would do with such a call: the method upper-cased when it is one
 * fetch normalizes, header names lower-cased, values trimmed; a name or value Request would refuse, or a
 * name given twice, goes to Request. Undefined when the call needs the
 * full Request (a body, a Request input, a Headers or array, other init fields).
 */
export function simpleFetchHeaders(
  input: string | URL | Request,
  init: FetchInit | undefined,
  base: string,
): string[] | undefined {
  if (typeof input !== 'string' && !(input instanceof URL)) return undefined;
  let method = 'GET';
  let given: Record<string, unknown> | undefined;
  if (init !== undefined) {
    if (typeof init !== 'object' || init === null) return undefined;
    for (const k in init) if (!SIMPLE_INIT_KEYS.has(k)) return undefined;
    if (init.method !== undefined) {
      if (typeof init.method !== 'string') return undefined;
      const m = FETCH_METHODS[init.method.toLowerCase()] ?? init.method;
      if (m !== 'GET' && m !== 'HEAD' && m !== 'DELETE' && m !== 'OPTIONS') return undefined; // the rest may carry bodies: Request decides
      method = m;
    }
    if (init.headers !== undefined) {
      if (
        typeof init.headers !== 'object' ||
        init.headers === null ||
        Array.isArray(init.headers) ||
        Object.getPrototypeOf(init.headers) !== Object.prototype
      )
        return undefined;
      given = init.headers as Record<string, unknown>;
    }
  }
  const url = new URL(String(input), base);
  const flat = [':method', method, ':path', url.pathname + url.search, 'host', url.host];
  if (given) {
    const seen = new Set<string>();
    for (const k of Object.keys(given)) {
      const v = given[k];
      // Anything Request would convert, combine or refuse (with its own error) goes to Request.
      if (typeof v !== 'string' || !HEADER_TOKEN.test(k)) return undefined;
      const name = k.toLowerCase();
      if (seen.has(name) || !FETCH_PLAIN_VALUE.test(v)) return undefined;
      const value = v.replace(/^[\t ]+|[\t ]+$/g, ''); // as Request normalizes a value
      seen.add(name);
      if (name !== 'host') flat.push(name, value);
    }
  }
  return flat;
}
