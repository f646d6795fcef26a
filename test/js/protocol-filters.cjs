// Filters for test/envoy.protocols.test.mjs: what a JS filter sees and does on HTTP/2 and gRPC streams in
// real Envoy. Written as a user would after compiling TS to CJS.
const { defineFilter } = require('nodevoy');
const { upper } = require('./ascii.cjs');

// HTTP/2 both ways: headers read and set in both directions, the request body upper-cased chunk by chunk,
// the response body read whole (the handler parks) and wrapped, a local reply on /deny.
exports.h2Rewrite = defineFilter({
  onRequestHeaders(req, ctx) {
    if (req.path.startsWith('/deny')) {
      return ctx.respond(403, `denied ${req.method} ${req.path}`, { 'x-denied-by': 'nodevoy' });
    }
    req.headers.set('x-seen', `${req.method} ${req.authority} ${req.path}`);
    req.headers.set('x-seen-protocol', String(ctx.attribute('request.protocol')));
    req.headers.set('x-stream-tag', req.headers.get('x-tag') ?? 'none');
    req.headers.delete('x-drop-me');
  },
  onRequestData(chunk) {
    return upper(chunk.bytes);
  },
  async onResponseHeaders(res, ctx) {
    const text = await res.body.text();
    res.body.replace(JSON.stringify({ wrapped: text, upstreamStatus: res.status }));
    res.headers.set('x-filter-saw', `${res.status} ${res.headers.get('x-up-tag') ?? '-'}`);
    res.headers.delete('x-up-secret');
  },
});

// gRPC: the caller's x-tenant metadata is required and passed on checked; the call's outcome (grpc-status,
// from the trailers, or from the headers of a trailers-only response) is counted and echoed back.
//
// Replies without a tenant, by the tenant value:
//   (none)      ctx.respond(401, ...)                          a plain local reply
//   "blocked"   ctx.respond(403, ..., { 'grpc-status': '7' })  the filter names the gRPC status itself
//   "crash"     the handler throws                             the module's failure reply (fail_closed)
const seen = new WeakMap(); // ctx -> tenant

function record(ctx, where, status) {
  ctx.metrics.grpc_calls.inc(1, { where, status: status ?? 'none' });
}

exports.grpcTenant = defineFilter({
  metrics: { grpc_calls: { type: 'counter', labels: ['where', 'status'] } },
  onRequestHeaders(req, ctx) {
    const tenant = req.headers.get('x-tenant');
    if (!tenant) return ctx.respond(401, 'missing x-tenant');
    if (tenant === 'blocked') return ctx.respond(403, 'tenant blocked', { 'grpc-status': '7' });
    if (tenant === 'crash') throw new Error('tenant lookup crashed');
    seen.set(ctx, tenant);
    req.headers.set('x-tenant-checked', `${tenant.toUpperCase()} via ${req.headers.get('content-type')}`);
    req.headers.set('x-grpc-method', req.path);
  },
  onResponseHeaders(res, ctx) {
    const status = res.headers.get('grpc-status'); // present only in a trailers-only response
    if (status !== null) {
      record(ctx, 'headers', status);
      res.headers.set('x-filter-grpc-status', status);
    }
  },
  onResponseTrailers(trailers, ctx) {
    const status = trailers.get('grpc-status');
    record(ctx, 'trailers', status);
    trailers.set('x-filter-grpc-status', status ?? 'none');
    trailers.set('x-filter-tenant', seen.get(ctx) ?? 'none');
    trailers.set('x-filter-attr-grpc-status', String(ctx.attribute('response.grpc_status')));
  },
});
