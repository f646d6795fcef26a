// Body transforms, chosen per route:
//   "redact"    streams both bodies chunk by chunk, replacing configured words (even split across chunks);
//   "uppercase" streams both bodies, upper-casing ASCII letters;
//   "json"      reads the whole JSON request body, rewrites fields and replaces the body;
//   "off"       passes everything through.
import { defineFilter, type BodyChunk, type FilterContext } from 'nodevoy';
import { z } from 'zod';

const Mode = z.enum(['redact', 'uppercase', 'json', 'off']);
const Json = z
  .object({
    /** Top-level fields set on the request object (replacing what the client sent). */
    set: z.record(z.unknown()).default({}),
    /** Top-level fields removed from the request object. */
    remove: z.array(z.string()).default([]),
  })
  .strict();

const Config = z
  .object({
    mode: Mode.default('off'),
    /** Words "redact" replaces (case-insensitive, literal). */
    words: z.array(z.string().min(1)).default([]),
    replacement: z.string().default('[redacted]'),
    /** Also transform response bodies in the streaming modes. */
    responses: z.boolean().default(true),
    json: Json.default({}),
  })
  .strict();

const RouteConfig = z
  .object({
    mode: Mode.optional(),
    words: z.array(z.string().min(1)).optional(),
    replacement: z.string().optional(),
    responses: z.boolean().optional(),
    json: Json.optional(),
  })
  .strict();

type Config = z.infer<typeof Config>;
type Ctx = FilterContext<Config>;

const A = 0x61,
  Z = 0x7a;
function upper(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length); // a new array: the chunk's view dies when the handler returns
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] as number;
    out[i] = c >= A && c <= Z ? c - 32 : c;
  }
  return out;
}

// Redaction across chunk boundaries: each direction keeps an incremental UTF-8 decoder (a character can be
// split between chunks) and holds back the last `longest word - 1` characters, which may be the start of a
// word the next chunk completes. Compiled patterns are cached per config object (one per route).
interface Redactor {
  re: RegExp;
  hold: number;
}
const redactors = new WeakMap<object, Redactor>();
function redactorFor(cfg: Config): Redactor {
  let r = redactors.get(cfg);
  if (!r) {
    const words = [...cfg.words].sort((a, b) => b.length - a.length);
    const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    r = {
      re: new RegExp(escaped.length ? escaped.join('|') : '(?!)', 'gi'),
      hold: Math.max(0, (words[0]?.length ?? 1) - 1),
    };
    redactors.set(cfg, r);
  }
  return r;
}

interface Direction {
  decoder: TextDecoder;
  carry: string;
}
const streams = new WeakMap<Ctx, { req?: Direction; res?: Direction }>();

function redact(dir: 'req' | 'res', chunk: BodyChunk, ctx: Ctx): string | null {
  let s = streams.get(ctx);
  if (!s) streams.set(ctx, (s = {}));
  const d = (s[dir] ??= { decoder: new TextDecoder(), carry: '' });
  const text = d.carry + d.decoder.decode(chunk.bytes, { stream: !chunk.end });
  const { re, hold } = redactorFor(ctx.config);
  // Emit up to `cut`; a match that starts before it is complete already and is emitted whole.
  let cut = chunk.end ? text.length : Math.max(0, text.length - hold);
  let out = '';
  let last = 0;
  let count = 0;
  re.lastIndex = 0;
  for (let m = re.exec(text); m && m.index < cut; m = re.exec(text)) {
    out += text.slice(last, m.index) + ctx.config.replacement;
    last = m.index + m[0].length;
    cut = Math.max(cut, last);
    count++;
  }
  out += text.slice(last, cut);
  d.carry = text.slice(cut);
  if (count) ctx.metrics.redactions.inc(count, { direction: dir === 'req' ? 'request' : 'response' });
  return out === '' ? null : out; // null drops the chunk (everything in it is held back for now)
}

function transform(dir: 'req' | 'res', chunk: BodyChunk, ctx: Ctx): string | Uint8Array | null | void {
  const { mode, responses } = ctx.config;
  if (dir === 'res' && !responses) return;
  if (mode === 'uppercase') return upper(chunk.bytes);
  if (mode === 'redact') return redact(dir, chunk, ctx);
}

const streaming = (cfg: Config, dir: 'req' | 'res') =>
  (cfg.mode === 'redact' || cfg.mode === 'uppercase') && (dir === 'req' || cfg.responses);

export const bodyTransform = defineFilter({
  config: Config,
  routeConfig: RouteConfig,
  metrics: {
    /** dynamicmodulescustom.bodyTransform.redactions.direction.<request|response> */
    redactions: { type: 'counter', labels: ['direction'] },
    /** dynamicmodulescustom.bodyTransform.json_rewrites.result.<ok|rejected> */
    json_rewrites: { type: 'counter', labels: ['result'] },
  },

  async onRequestHeaders(req, ctx) {
    const cfg = ctx.config;
    // A streamed transform changes the length: drop content-length so the body goes chunked.
    if (streaming(cfg, 'req')) req.headers.delete('content-length');
    if (cfg.mode !== 'json' || !/^application\/([\w.+-]+\+)?json\b/i.test(req.headers.get('content-type') ?? ''))
      return;

    let doc: unknown;
    try {
      doc = await req.body.json(); // the request waits here until the whole body has arrived
    } catch (e) {
      ctx.metrics.json_rewrites.inc(1, { result: 'rejected' });
      const message = e instanceof SyntaxError ? 'the body is not valid JSON' : String((e as Error).message);
      return ctx.respond(400, JSON.stringify({ error: 'bad_request', message }), {
        'content-type': 'application/json',
      });
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      ctx.metrics.json_rewrites.inc(1, { result: 'rejected' });
      return ctx.respond(400, JSON.stringify({ error: 'bad_request', message: 'expected a JSON object' }), {
        'content-type': 'application/json',
      });
    }
    const obj = doc as Record<string, unknown>;
    for (const k of cfg.json.remove) delete obj[k];
    Object.assign(obj, cfg.json.set);
    req.body.replace(JSON.stringify(obj)); // content-length follows the new body
    req.headers.set('x-body-transform', 'json');
    ctx.metrics.json_rewrites.inc(1, { result: 'ok' });
  },

  onRequestData: (chunk, ctx) => transform('req', chunk, ctx),

  onResponseHeaders(res, ctx) {
    if (!streaming(ctx.config, 'res')) return;
    res.headers.delete('content-length');
    res.headers.set('x-body-transform', ctx.config.mode);
  },

  onResponseData: (chunk, ctx) => transform('res', chunk, ctx),
});
