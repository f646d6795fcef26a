// Filters exercising every part of the SDK, for test/runtime.api.test.mjs (through the ABI host).
const { defineFilter, InvalidStateError, FetchError } = require('nodevoy');

const { upper } = require('./ascii.cjs');

// 1. bodies, streamed chunk by chunk
exports.uppercase = defineFilter({
  onRequestHeaders(req) {
    req.headers.delete('content-length');
  },
  onRequestData(chunk) {
    if (chunk.text().includes('drop-me')) return null;
    return upper(chunk.bytes);
  },
  onResponseHeaders(res) {
    res.headers.delete('content-length');
  },
  onResponseData(chunk) {
    return upper(chunk.bytes);
  },
});

// counts bytes and chunks, keeping nothing; reports through dynamic metadata... and a trailer-free header on the response
let seen = { bytes: 0, chunks: 0, detached: true };
exports.chunkStats = defineFilter({
  onRequestData(chunk) {
    seen.bytes += chunk.bytes.length;
    seen.chunks++;
    seen.last = chunk.bytes; // kept on purpose: must be detached after the call
  },
  onResponseHeaders(res) {
    res.headers.set('x-seen-bytes', String(seen.bytes));
    res.headers.set('x-seen-chunks', String(seen.chunks));
    res.headers.set('x-kept-view-length', String(seen.last ? seen.last.byteLength : -1));
    seen = { bytes: 0, chunks: 0 };
  },
});

// 1. the whole body, read and rewritten
exports.wholeBody = defineFilter({
  async onRequestHeaders(req, ctx) {
    const text = await req.body.text();
    req.headers.set('x-body-length', String(text.length));
    const op = req.headers.get('x-op') ?? 'replace';
    if (op === 'replace') req.body.replace(JSON.stringify({ wrapped: text }));
    else if (op === 'append') req.body.append('+tail');
    else if (op === 'prepend') req.body.prepend('head+');
    else if (op === 'clear') req.body.clear();
    else if (op === 'json') req.headers.set('x-json-name', (await req.body.json()).name);
    else if (op === 'late') {
      await new Promise((r) => setTimeout(r, 10));
      req.body.append('+late');
    }
  },
  async onResponseHeaders(res, ctx) {
    if (ctx.config.readResponse !== true) return;
    const body = await res.body.text();
    if (body.includes('"x-fail-upstream"')) return ctx.respond(502, 'upstream said fail', { 'x-replaced': 'yes' });
    res.status = 299;
    res.headers.set('x-response-length', String(body.length));
  },
});

// reading the request body in the response phase is a typed error
exports.bodyReadAfterHeaders = defineFilter({
  onRequestHeaders(req, ctx) {
    ctx.saved = req;
  },
  async onResponseHeaders(res, ctx) {
    try {
      await ctx.saved.body.bytes();
      res.headers.set('x-error', 'none');
    } catch (e) {
      res.headers.set('x-error', `${e.name}:${e instanceof InvalidStateError}`);
    }
  },
});

// 2. trailers
exports.trailers = defineFilter({
  onRequestTrailers(trailers) {
    const v = trailers.get('x-client-trailer');
    trailers.set('x-client-trailer', `seen:${v}`);
    trailers.append('x-filter-trailer', 'added');
  },
  onResponseTrailers(trailers) {
    trailers.set('x-up-trailer', `${trailers.get('x-up-trailer')}+js`);
  },
});
exports.asyncTrailers = defineFilter({
  async onRequestTrailers(trailers) {
    await new Promise((r) => setTimeout(r, 20));
    trailers.set('x-async-trailer', 'yes');
  },
});

// 3. replies from any phase
exports.replies = defineFilter({
  onRequestData(chunk, ctx) {
    if (chunk.text().includes('forbidden')) return ctx.respond(403, 'forbidden word in body');
  },
  onRequestTrailers(trailers, ctx) {
    if (trailers.get('x-deny')) return ctx.respond(451, 'denied by trailer');
  },
  onResponseData(chunk, ctx) {
    if (chunk.text().includes('partial')) return ctx.respond(500, 'too late');
  },
});

// 4. per-route config, with zod schemas for both levels (the shared scenarios' filter)
exports.routed = require('./scenario-filters.cjs').routed;

// 5. metrics
exports.metered = defineFilter({
  metrics: {
    hits: { type: 'counter', labels: ['method'] },
    inflight: { type: 'gauge' },
    sizes: { type: 'histogram' },
  },
  onRequestHeaders(req, ctx) {
    ctx.metrics.hits.inc(1, { method: req.method });
    ctx.metrics.inflight.set(7);
    ctx.metrics.sizes.record(req.path.length);
    try {
      ctx.metrics.hits.inc(1);
    } catch (e) {
      req.headers.set('x-metric-error', e.name);
    }
  },
});

// 6. logging
exports.logs = defineFilter({
  onRequestHeaders(req, ctx) {
    ctx.log.info(`info-line ${req.path}`);
    ctx.log.debug('debug-line');
    ctx.log.warn('warn-line');
    console.log('console-log-line', { n: 1 });
    console.error('console-error-line');
    req.headers.set('x-debug-enabled', String(ctx.log.enabled('debug')));
  },
});

// 7. fetch through Envoy's cluster
exports.clusterFetch = defineFilter({
  async onRequestHeaders(req, ctx) {
    const cluster = req.headers.get('x-cluster') ?? 'auth';
    const path = req.headers.get('x-fetch-path') ?? '/check?user=1';
    try {
      const res = await ctx.fetch(cluster, path, {
        method: req.headers.get('x-fetch-method') ?? 'GET',
        headers: { 'x-from': 'nodevoy' },
        body: req.headers.get('x-fetch-body') ?? undefined,
        timeoutMs: Number(req.headers.get('x-timeout') ?? 2000),
      });
      const body = await res.json();
      req.headers.set('x-auth-status', String(res.status));
      req.headers.set('x-auth-path', body.path);
      req.headers.set('x-auth-from', body.headers['x-from']);
      req.headers.set('x-auth-body', body.body);
      req.headers.set('x-auth-is-response', String(res instanceof Response));
    } catch (e) {
      return ctx.respond(504, `fetch failed: ${e.name}: ${e.message}`, {
        'x-fetch-error': String(e instanceof FetchError),
      });
    }
  },
});

// 7b. the same calls as a path + init (ctx.fetch builds the callout itself) and as a web Request
exports.fetchShapes = defineFilter({
  async onRequestHeaders(req, ctx) {
    const init = { method: 'delete', headers: { 'X-Case': ' padded\t', 'x-two': 'b', host: 'ignored' } };
    await ctx.fetch('auth', '/shape?q=1', init);
    await ctx.fetch('auth', new Request('http://auth/shape?q=1', init));
    await ctx.fetch('auth', new URL('http://auth/dup'), { headers: { 'x-d': 'a', 'X-D': 'b' } });
    const bad = await ctx.fetch('auth', '/bad', { headers: { 'bad name': 'x' } }).then(
      () => 'sent',
      (e) => e.name,
    );
    req.headers.set('x-bad-header', bad);
  },
});

// 8. stream info and state
exports.info = defineFilter({
  onRequestHeaders(req, ctx) {
    req.headers.set('x-attr-method', ctx.attribute('request.method'));
    req.headers.set('x-attr-id', String(ctx.attribute('request.id')));
    req.headers.set('x-attr-source', String(ctx.attribute('source.address')));
    req.headers.set('x-attr-source-port-type', typeof ctx.attribute('source.port'));
    req.headers.set('x-attr-route', String(ctx.attribute('xds.route_name')));
    ctx.metadata.set('nodevoy.test', 'user', 'alice');
    ctx.metadata.set('nodevoy.test', 'score', 42.5);
    ctx.metadata.set('nodevoy.test', 'admin', true);
    ctx.filterState.set('nodevoy.state', 'kept');
    if (req.headers.get('x-reroute')) {
      req.headers.set(':path', `/v2${req.path}`);
      ctx.clearRouteCache();
    }
  },
  onResponseHeaders(res, ctx) {
    res.headers.set(
      'x-meta',
      `${ctx.metadata.get('nodevoy.test', 'user')},${ctx.metadata.get('nodevoy.test', 'score')},${ctx.metadata.get('nodevoy.test', 'admin')}`,
    );
    res.headers.set('x-state', String(ctx.filterState.get('nodevoy.state')));
    res.headers.set('x-attr-code', String(ctx.attribute('response.code')));
    res.headers.set('x-missing-meta', String(ctx.metadata.get('nodevoy.test', 'nope')));
  },
});

exports.override = defineFilter({
  onRequestHeaders(req, ctx) {
    ctx.accepted = ctx.setUpstreamOverrideHost(req.headers.get('x-override-host'), req.headers.get('x-strict') === '1');
  },
  onResponseHeaders(res, ctx) {
    res.headers.set('x-accepted', String(ctx.accepted));
  },
});

// Reports how many body bytes this worker's environment copied into the JS heap while the request ran.
// Inside the module only (the test kit cannot load this bundle's meters).
const binding = { bytesCopiedToJs: () => process._linkedBinding('nodevoy').bytesCopiedToJs() };
exports.copyMeter = defineFilter({
  onRequestHeaders(req, ctx) {
    ctx.copiedAtStart = binding.bytesCopiedToJs();
    req.headers.delete('content-length');
  },
  onRequestData(chunk) {
    return upper(chunk.bytes); // reads the zero-copy view, returns its own bytes
  },
  onResponseHeaders(res, ctx) {
    res.headers.set('x-copied', String(binding.bytesCopiedToJs() - ctx.copiedAtStart));
  },
});
exports.wholeMeter = defineFilter({
  async onRequestHeaders(req, ctx) {
    const before = binding.bytesCopiedToJs();
    const bytes = await req.body.bytes();
    let sum = 0;
    for (let i = 0; i < bytes.length; i += 4096) sum += bytes[i];
    req.headers.set('x-sampled', String(sum));
    ctx.copied = binding.bytesCopiedToJs() - before;
  },
  onResponseHeaders(res, ctx) {
    res.headers.set('x-copied', String(ctx.copied));
  },
});
