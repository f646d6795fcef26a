// What a handler returned, and what it means. Only nodevoy's own replies and web Responses answer a
// stream; nothing else may be taken for "continue" by accident (an auth filter returning
// `{ status: 401 }` must not let the request through).
import { concat } from './body';
import type { Reply } from './filter';

const REPLIES = new WeakSet<object>();

/** The largest body a returned Response may carry (read whole before the reply is sent). */
export const MAX_RESPONSE_BODY = 1 << 20;

/** @internal A Reply as ctx.respond makes it: recognised by identity, not by shape. */
export function makeReply(status: number): Reply {
  const r = Object.freeze({ status }) as Reply;
  REPLIES.add(r);
  return r;
}

/** @internal */
export function isReply(v: unknown): v is Reply {
  return typeof v === 'object' && v !== null && REPLIES.has(v);
}

/** @internal A web Response, from this runtime's fetch or another copy of undici (so not by instanceof). */
export function isResponseLike(v: unknown): v is Response {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Partial<Response>;
  return (
    typeof r.status === 'number' && typeof r.arrayBuffer === 'function' && typeof r.headers?.forEach === 'function'
  );
}

/** @internal A short description of an unexpected value for the log line. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)})`;
  if (typeof v !== 'object') return `a ${typeof v} (${String(v)})`;
  const ctor = (v as object).constructor?.name;
  let shape = '';
  try {
    shape = JSON.stringify(v) ?? '';
  } catch {
    // cyclic or exotic: the constructor name is enough
  }
  return `${ctor && ctor !== 'Object' ? `a ${ctor}` : 'an object'}${shape ? ` ${shape.length > 80 ? `${shape.slice(0, 80)}…` : shape}` : ''}`;
}

// Framing is Envoy's to set for the reply it sends.
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection']);

/** @internal A returned Response as a reply: status, flat header list (set-cookie kept apart) and the whole body. */
export async function responseReply(res: Response): Promise<{ status: number; headers: string[]; body: Uint8Array }> {
  // getSetCookie keeps cookies apart; Node 18's undici lacks it, and forEach then gives them joined.
  const apart = typeof res.headers.getSetCookie === 'function';
  const headers: string[] = [];
  res.headers.forEach((value, name) => {
    if ((name !== 'set-cookie' || !apart) && !FRAMING.has(name)) headers.push(name, value);
  });
  if (apart) for (const c of res.headers.getSetCookie()) headers.push('set-cookie', c);
  return { status: res.status, headers, body: await readCapped(res) };
}

async function readCapped(res: Response): Promise<Uint8Array> {
  const over = (n: number) =>
    new RangeError(`the returned Response's body is over ${MAX_RESPONSE_BODY} bytes (${n} read)`);
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_RESPONSE_BODY) {
      await reader.cancel();
      throw over(size);
    }
    parts.push(value);
  }
  return concat(parts);
}
