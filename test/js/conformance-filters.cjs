// Filters for test/conformance.test.mjs: each makes what the module observes visible to the client, so
// the differential suite can compare the module's view on the test host and on Envoy.
const { defineFilter } = require('nodevoy');

const entries = (h) => h.raw();

// Reports the request headers the filter saw (x-seen-request) and the response headers (x-seen-response),
// as JSON; writes one empty value and one duplicate in each direction.
exports.reporter = defineFilter({
  onRequestHeaders(req, ctx) {
    ctx.metadata.set('conformance', 'seen', JSON.stringify(entries(req.headers)));
    req.headers.set('x-set-empty', '');
    req.headers.append('x-add-empty', '');
    req.headers.append('x-dup-added', 'one');
    req.headers.append('x-dup-added', 'two');
  },
  onResponseHeaders(res, ctx) {
    res.headers.set('x-seen-request', String(ctx.metadata.get('conformance', 'seen')));
    res.headers.set('x-seen-response', JSON.stringify(entries(res.headers)));
    res.headers.set('x-resp-empty', '');
    res.headers.append('x-resp-add-empty', '');
    res.headers.append('x-resp-dup', 'a');
    res.headers.append('x-resp-dup', 'b');
  },
});

// Replies from the phase named by the x-reply-phase request header.
const phaseOf = new WeakMap();
exports.replier = defineFilter({
  onRequestHeaders(req, ctx) {
    phaseOf.set(ctx, req.headers.get('x-reply-phase'));
    if (phaseOf.get(ctx) === 'request_headers') return ctx.respond(418, 'from request headers', { 'x-phase': 'rq-h' });
  },
  onRequestData(chunk, ctx) {
    if (phaseOf.get(ctx) === 'request_body') ctx.respond(419, 'from request body', { 'x-phase': 'rq-b' });
  },
  onRequestTrailers(trailers, ctx) {
    if (phaseOf.get(ctx) === 'request_trailers') return ctx.respond(420, 'from request trailers');
  },
  onResponseHeaders(res, ctx) {
    if (phaseOf.get(ctx) === 'response_headers') return ctx.respond(421, 'from response headers');
  },
  onResponseData(chunk, ctx) {
    if (phaseOf.get(ctx) === 'response_body') ctx.respond(422, 'from response body');
  },
});

// Reads whole bodies (so Envoy's buffer limit applies): request on POST, response when x-read-response is set.
exports.wholeBodies = defineFilter({
  async onRequestHeaders(req) {
    if (req.method === 'POST') req.headers.set('x-request-bytes', String((await req.body.bytes()).length));
  },
  async onResponseHeaders(res) {
    if (res.headers.get('x-read-response'))
      res.headers.set('x-response-bytes', String((await res.body.bytes()).length));
  },
});

// ctx.fetch to the cluster named by x-cluster; reports the outcome.
exports.fetcher = defineFilter({
  async onRequestHeaders(req, ctx) {
    try {
      const r = await ctx.fetch(req.headers.get('x-cluster') ?? 'none', '/callout', { timeoutMs: 2000 });
      return ctx.respond(200, `fetched ${r.status}: ${(await r.text()).slice(0, 60)}`);
    } catch (e) {
      return ctx.respond(502, `fetch failed: ${e.code ?? e.name}`);
    }
  },
});

// Reports attributes as response headers.
exports.attributes = defineFilter({
  onResponseHeaders(res, ctx) {
    for (const name of [
      'request.path',
      'request.method',
      'request.host',
      'request.scheme',
      'request.protocol',
      'response.code',
      'xds.route_name',
      'xds.cluster_name',
      'xds.virtual_host_name',
      'connection.mtls',
      'source.address',
      'destination.address',
    ]) {
      let v;
      try {
        v = ctx.attribute(name);
      } catch (e) {
        v = `threw ${e.code ?? e.name}`;
      }
      // JSON, so an empty string stays visible (setting an empty value removes the header)
      res.headers.set(`x-attr-${name.replace(/\./g, '-')}`, v === undefined ? '(none)' : JSON.stringify(v));
    }
  },
});

// Applies the header operations named (as JSON [[op, name, value?], ...]) by the request headers
// x-ops-req (on the request headers) and x-ops-res (on the response headers) through the binding
// itself, so Envoy's return values are visible; reports each call's return, what get/getAll/has read
// back, and the map afterwards, in x-ops-report (JSON) on the response.
const rawCall = (h, op, name, value) => {
  const n = h.native;
  const id = h.stream.id;
  switch (op) {
    case 'set':
      return n.setHeader(id, h.kind, name, value);
    case 'add':
      return n.addHeader(id, h.kind, name, value);
    case 'remove':
      return n.removeHeader(id, h.kind, name);
    case 'get':
      return h.get(name);
    case 'getAll':
      return h.getAll(name);
    case 'has':
      return h.has(name);
    default:
      throw new Error(`unknown op ${op}`);
  }
};
const runOps = (h, ops) => ops.map(([op, name, value]) => [op, name, value, rawCall(h, op, name, value)]);
const opsOf = new WeakMap();
exports.writer = defineFilter({
  onRequestHeaders(req, ctx) {
    const resOps = JSON.parse(req.headers.get('x-ops-res') ?? '[]');
    const reqOps = runOps(req.headers, JSON.parse(req.headers.get('x-ops-req') ?? '[]'));
    opsOf.set(ctx, { resOps, report: { req: reqOps, reqAfter: entries(req.headers) } });
  },
  onResponseHeaders(res, ctx) {
    const st = opsOf.get(ctx);
    if (!st) return;
    st.report.res = runOps(res.headers, st.resOps);
    st.report.resAfter = entries(res.headers);
    res.headers.append('x-ops-report', JSON.stringify(st.report));
  },
});

// Reports what a filter sees of a reply Envoy made (route timeout, upstream reset): its code details.
exports.details = defineFilter({
  onResponseHeaders(res, ctx) {
    res.headers.set('x-details', String(ctx.attribute('response.code_details')));
  },
});
