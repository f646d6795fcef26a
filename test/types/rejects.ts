// Mistakes the public types must turn into compile errors: each @ts-expect-error line fails the build
// (as an unused directive) if the mistake under it ever compiles.
import { defineFilter } from 'nodevoy';

export const metricTypo = defineFilter({
  metrics: { hits: { type: 'counter', labels: ['method'] } },
  onRequestHeaders(req, ctx) {
    // @ts-expect-error a metric name that was not declared
    ctx.metrics.hitz.inc(1, { method: req.method });
    // @ts-expect-error a label name that was not declared
    ctx.metrics.hits.inc(1, { verb: req.method });
    // @ts-expect-error a declared label left out
    ctx.metrics.hits.inc(1);
    // @ts-expect-error a counter has no set()
    ctx.metrics.hits.set(1, { method: req.method });
  },
});

export const noMetrics = defineFilter<{ a: string }>({
  onRequestHeaders(_req, ctx) {
    // @ts-expect-error no metrics were declared
    ctx.metrics.anything.inc();
  },
});

export const fakeReply = defineFilter({
  // @ts-expect-error an object that merely has a status is not a reply
  onRequestHeaders() {
    return { status: 401 };
  },
});

export const stringResult = defineFilter({
  // @ts-expect-error a headers handler does not return a string
  onResponseHeaders() {
    return 'done';
  },
});

export const asyncChunk = defineFilter({
  // @ts-expect-error a chunk handler is synchronous
  async onRequestData(chunk) {
    return chunk.bytes;
  },
});

export const badConfigUse = defineFilter<{ authUrl: string }>({
  onRequestHeaders(_req, ctx) {
    // @ts-expect-error a config field that does not exist
    return ctx.respond(500, ctx.config.authURL);
  },
});
