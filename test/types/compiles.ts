// Filters a user may write: all of this must type-check against the published declarations.
import { defineFilter, type FilterContext } from 'nodevoy';
import { z } from 'zod';

const metrics = {
  hits: { type: 'counter', labels: ['method'] },
  inflight: { type: 'gauge' },
  sizes: { type: 'histogram', labels: ['route'] },
} as const;

// A helper outside defineFilter names the declarations to get the same typed metrics.
function count(ctx: FilterContext<{ tag: string }, typeof metrics>, method: string): void {
  ctx.metrics.hits.inc(1, { method });
}

export const typed = defineFilter({
  config: z.object({ tag: z.string() }),
  metrics,
  onRequestHeaders(req, ctx) {
    count(ctx, req.method);
    ctx.metrics.inflight.inc();
    ctx.metrics.inflight.set(3);
    ctx.metrics.sizes.record(10, { route: req.path });
    const tag: string = ctx.config.tag;
    if (!req.headers.get('authorization')) return ctx.respond(401, `no token (${tag})`);
    if (req.path === '/hello') return new Response('hi', { status: 200 });
  },
  async onResponseHeaders(res, ctx) {
    await Promise.resolve();
    res.headers.set('x-tag', ctx.config.tag);
  },
  onRequestData(chunk) {
    return chunk.end ? null : chunk.bytes;
  },
});

// Declarations inline infer their literal names and labels too.
export const inline = defineFilter({
  metrics: { requests: { type: 'counter', labels: ['outcome', 'route'] } },
  async onRequestHeaders(req, ctx) {
    ctx.metrics.requests.inc(1, { outcome: 'ok', route: req.path });
    return ctx.respond(204);
  },
});

// An explicit config type, no metrics.
export const explicit = defineFilter<{ authUrl: string }>({
  onRequestHeaders(req, ctx) {
    req.headers.set('x-auth-url', ctx.config.authUrl);
  },
});
