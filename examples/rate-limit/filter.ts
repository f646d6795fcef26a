// A per-route token-bucket rate limiter. `requests` per `perSeconds` refill a bucket of `burst` tokens
// (default: `requests`); each request takes one, an empty bucket answers 429 with retry-after.
//
// Buckets live in module memory, which is per Envoy worker: with N workers a client can get up to N times
// the limit (each connection stays on one worker). Use Envoy's global rate limit service for exact limits.
import { defineFilter, type FilterContext } from 'nodevoy';
import { z } from 'zod';

const Limit = {
  /** Names the route's buckets and its metric label; routes with the same name share buckets. */
  name: z.string().regex(/^[A-Za-z0-9_]+$/, 'letters, digits and _ only (it is a metric label)'),
  requests: z.number().int().positive(),
  // coerce: Envoy's YAML loader hands a number with a fraction (perSeconds: 0.5) to a Struct config as
  // the string "0.5"; integers, JSON configs and xDS keep numbers.
  perSeconds: z.coerce.number().positive(),
  /** Bucket size (the burst allowed after a quiet period); defaults to `requests`. */
  burst: z.number().int().positive().optional(),
  /** Key buckets by this request header (e.g. an API key); absent: by client address. "" = one bucket per route. */
  keyHeader: z.string().optional(),
  /** Turn limiting off on a route. */
  disabled: z.boolean().optional(),
};

const Config = z
  .object({
    ...Limit,
    name: Limit.name.default('default'),
    /** Most buckets kept per worker; full buckets are dropped first when it is reached. */
    maxBuckets: z.number().int().positive().default(10_000),
  })
  .strict();

// Per-route overrides: any subset of the limit fields (merged over the filter's, key by key).
const RouteConfig = z.object(Limit).partial().strict();

type Config = z.infer<typeof Config>;

interface Bucket {
  tokens: number;
  at: number;
}
const buckets = new Map<string, Bucket>();

function refill(b: Bucket, cfg: Config, now: number): number {
  const size = cfg.burst ?? cfg.requests;
  const rate = cfg.requests / cfg.perSeconds / 1000; // tokens per ms
  b.tokens = Math.min(size, b.tokens + (now - b.at) * rate);
  b.at = now;
  return size;
}

function sweep(cfg: Config, now: number): void {
  // Buckets that are full again are the same as absent ones: drop them. (A bucket's own limits are not
  // kept, so "full" uses this route's; good enough for a memory bound.)
  for (const [k, b] of buckets) if (refill(b, cfg, now) <= b.tokens) buckets.delete(k);
  if (buckets.size >= cfg.maxBuckets) buckets.clear();
}

function clientKey(ctx: FilterContext<Config>, header: string | null): string {
  if (ctx.config.keyHeader === '') return '*';
  if (header !== null) return `h:${header}`;
  const addr = ctx.attribute('source.address') ?? '';
  return `a:${addr.replace(/:\d+$/, '')}`; // the address without the port
}

export const rateLimit = defineFilter({
  config: Config,
  routeConfig: RouteConfig,
  metrics: {
    /** dynamicmodulescustom.rateLimit.requests.route.<name>.decision.<allowed|limited> */
    requests: { type: 'counter', labels: ['route', 'decision'] },
    /** Tokens left in the last bucket used on the route (per worker; the last worker to write wins). */
    tokens: { type: 'gauge', labels: ['route'] },
  },

  onRequestHeaders(req, ctx) {
    const cfg = ctx.config;
    if (cfg.disabled) return;
    const now = performance.now();
    const key = `${cfg.name}|${clientKey(ctx, cfg.keyHeader ? req.headers.get(cfg.keyHeader) : null)}`;
    let b = buckets.get(key);
    if (!b) {
      if (buckets.size >= cfg.maxBuckets) sweep(cfg, now);
      b = { tokens: cfg.burst ?? cfg.requests, at: now };
      buckets.set(key, b);
    }
    const size = refill(b, cfg, now);
    const route = cfg.name;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      ctx.metrics.requests.inc(1, { route, decision: 'allowed' });
      ctx.metrics.tokens.set(Math.floor(b.tokens), { route });
      return;
    }
    const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / (cfg.requests / cfg.perSeconds)));
    ctx.metrics.requests.inc(1, { route, decision: 'limited' });
    ctx.metrics.tokens.set(0, { route });
    return ctx.respond(429, JSON.stringify({ error: 'rate_limited', route, retryAfterSeconds: retryAfter }), {
      'content-type': 'application/json',
      'retry-after': String(retryAfter),
      'x-ratelimit-limit': `${cfg.requests};w=${cfg.perSeconds};burst=${size}`,
      'x-ratelimit-remaining': '0',
    });
  },
});
