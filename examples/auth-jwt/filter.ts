// JWT authentication: verifies `Authorization: Bearer <JWT>` against a JWKS that Envoy fetches from a
// cluster, checks issuer and audience, and hands the subject to the upstream as `x-user`.
import { defineFilter, type FilterContext } from 'nodevoy';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';

const Config = z
  .object({
    /** Expected `iss` claim. */
    issuer: z.string().min(1),
    /** Expected `aud` claim (one of them, when the token has several). */
    audience: z.string().min(1),
    /** The Envoy cluster serving the JWKS, and its path there. */
    jwksCluster: z.string().min(1),
    jwksPath: z.string().startsWith('/').default('/.well-known/jwks.json'),
    /** How long a fetched JWKS is used before it is fetched again. */
    jwksMaxAgeSeconds: z.number().int().positive().default(300),
    /** The request header the token's `sub` goes into (any incoming value is removed first). */
    userHeader: z.string().default('x-user'),
    /** Let requests without an Authorization header through (without the user header). */
    optional: z.boolean().default(false),
    /** Accepted clock skew for exp/nbf. */
    clockToleranceSeconds: z.number().int().nonnegative().default(0),
  })
  .strict();

// A route may demand another audience, or make the token optional (e.g. a public page).
const RouteConfig = z
  .object({
    audience: z.string().min(1).optional(),
    optional: z.boolean().optional(),
  })
  .strict();

type Config = z.infer<typeof Config>;
type Outcome =
  | 'allowed'
  | 'anonymous'
  | 'missing'
  | 'malformed'
  | 'invalid'
  | 'expired'
  | 'claims'
  | 'jwks_unavailable';

// The key set, per Envoy worker (each worker has its own Node environment and module memory). One fetch is
// shared by the requests that arrive while it runs; a token signed with an unknown `kid` refetches early
// (key rotation), at most once per 30 s.
interface CachedJwks {
  keys: JWTVerifyGetKey;
  fetchedAt: number;
}
const jwksCache = new Map<string, CachedJwks>();
const jwksLoading = new Map<string, Promise<CachedJwks>>();
const REFETCH_UNKNOWN_KID_MS = 30_000;

async function loadJwks(ctx: FilterContext<Config>): Promise<CachedJwks> {
  const { jwksCluster, jwksPath } = ctx.config;
  const key = `${jwksCluster}${jwksPath}`;
  let loading = jwksLoading.get(key);
  if (!loading) {
    // Not tied to ctx.signal: other streams may be waiting on the same fetch.
    loading = (async () => {
      const res = await ctx.fetch(jwksCluster, jwksPath, { headers: { accept: 'application/json' }, timeoutMs: 2000 });
      if (res.status !== 200) throw new Error(`JWKS fetch from cluster ${jwksCluster} returned ${res.status}`);
      const set = (await res.json()) as JSONWebKeySet;
      const cached = { keys: createLocalJWKSet(set), fetchedAt: Date.now() };
      jwksCache.set(key, cached);
      ctx.log.info(`loaded ${set.keys?.length ?? 0} keys from ${jwksCluster}${jwksPath}`);
      return cached;
    })().finally(() => jwksLoading.delete(key));
    jwksLoading.set(key, loading);
  }
  return loading;
}

async function getJwks(ctx: FilterContext<Config>, refresh: boolean): Promise<CachedJwks> {
  const cached = jwksCache.get(`${ctx.config.jwksCluster}${ctx.config.jwksPath}`);
  const age = cached ? Date.now() - cached.fetchedAt : Infinity;
  if (cached && age < ctx.config.jwksMaxAgeSeconds * 1000 && !(refresh && age > REFETCH_UNKNOWN_KID_MS)) return cached;
  try {
    return await loadJwks(ctx);
  } catch (e) {
    if (cached) return cached; // keep serving with the old keys while the JWKS service is down
    throw e;
  }
}

function classify(e: unknown): Outcome {
  switch ((e as { code?: string }).code) {
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return 'claims';
    default:
      return 'invalid';
  }
}

const MESSAGES: Record<Outcome, string> = {
  allowed: '',
  anonymous: '',
  missing: 'an Authorization: Bearer token is required',
  malformed: 'the Authorization header is not a Bearer token',
  invalid: 'the token is invalid',
  expired: 'the token has expired',
  claims: 'the token is not meant for this service',
  jwks_unavailable: 'the signing keys are unavailable',
};

export const authJwt = defineFilter({
  config: Config,
  routeConfig: RouteConfig,
  metrics: {
    /** dynamicmodulescustom.authJwt.requests.outcome.<outcome> */
    requests: { type: 'counter', labels: ['outcome'] },
  },

  async onRequestHeaders(req, ctx) {
    const cfg = ctx.config;
    req.headers.delete(cfg.userHeader); // never trust a client-supplied identity
    const done = (outcome: Outcome) => {
      ctx.metrics.requests.inc(1, { outcome });
      if (outcome === 'allowed' || outcome === 'anonymous') return;
      const status = outcome === 'jwks_unavailable' ? 503 : 401;
      const error =
        outcome === 'missing'
          ? 'unauthorized'
          : outcome === 'jwks_unavailable'
            ? 'temporarily_unavailable'
            : 'invalid_token';
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (status === 401)
        headers['www-authenticate'] = outcome === 'missing' ? 'Bearer' : `Bearer error="invalid_token"`;
      return ctx.respond(status, JSON.stringify({ error, message: MESSAGES[outcome] }), headers);
    };

    const auth = req.headers.get('authorization');
    if (auth === null) return done(cfg.optional ? 'anonymous' : 'missing');
    const m = /^Bearer[ ]+([A-Za-z0-9_\-.]+)$/i.exec(auth);
    if (!m) return done('malformed');
    const token = m[1] as string;

    let jwks: CachedJwks;
    try {
      jwks = await getJwks(ctx, false);
    } catch (e) {
      ctx.log.error(`cannot load the JWKS: ${(e as Error).message}`);
      return done('jwks_unavailable');
    }
    const options = { issuer: cfg.issuer, audience: cfg.audience, clockTolerance: cfg.clockToleranceSeconds };
    try {
      let result: Awaited<ReturnType<typeof jwtVerify>>;
      try {
        result = await jwtVerify(token, jwks.keys, options);
      } catch (e) {
        if ((e as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw e;
        result = await jwtVerify(token, (await getJwks(ctx, true)).keys, options); // keys may have rotated
      }
      const sub = result.payload.sub;
      if (typeof sub !== 'string' || sub === '' || /[\r\n\0]/.test(sub)) return done('claims');
      req.headers.set(cfg.userHeader, sub);
      return done('allowed');
    } catch (e) {
      const outcome = classify(e);
      if (ctx.log.enabled('debug')) ctx.log.debug(`rejected token (${outcome}): ${(e as Error).message}`);
      return done(outcome);
    }
  },
});
