// Filters for the shared scenario suite (test/scenarios/scenarios.mjs), run both through nodevoy/testing
// (test/testkit.scenarios.test.mjs) and through libnodevoy.so in the ABI host (test/runtime.scenarios.test.mjs).
const { defineFilter, FetchError } = require('nodevoy');
const { z } = require('zod');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const { upper } = require('./ascii.cjs');

// sync header rewrite, both directions
exports.headerRewrite = defineFilter({
  onRequestHeaders(req, ctx) {
    req.headers.set('x-added', `${ctx.config.tag}:${req.method}:${req.path}`);
    req.headers.append('x-multi', 'two');
    req.headers.delete('x-remove-me');
  },
  onResponseHeaders(res) {
    res.headers.set('x-response-added', String(res.status));
    res.headers.delete('content-type');
  },
});

// async headers handlers that wait on timers (the request body arrives while the handler is parked)
exports.asyncTimer = defineFilter({
  async onRequestHeaders(req) {
    const t0 = Date.now();
    await sleep(30);
    req.headers.set('x-waited', String(Date.now() - t0 >= 30));
  },
  async onResponseHeaders(res) {
    await sleep(20);
    res.headers.set('x-async-response', 'yes');
  },
});

// the whole request body, read and rewritten (content-length follows)
exports.wholeBody = defineFilter({
  async onRequestHeaders(req) {
    const text = await req.body.text();
    req.headers.set('x-body-length', String(text.length));
    const op = req.headers.get('x-op') ?? 'replace';
    if (op === 'replace') req.body.replace(JSON.stringify({ wrapped: text }));
    else if (op === 'append') req.body.append('+tail');
    else if (op === 'prepend') req.body.prepend('head+');
  },
});

// chunk transforms in both directions (length-preserving, so content-length stays truthful)
exports.chunkUpper = defineFilter({
  onRequestData(chunk) {
    return upper(chunk.bytes);
  },
  onResponseData(chunk) {
    if (chunk.text().includes('drop-me')) return null;
    return upper(chunk.bytes);
  },
});

// marks the end of each body: the chunk that carries end of stream (over HTTP/1.1, an empty last chunk)
exports.endMarker = defineFilter({
  onRequestHeaders(req) {
    req.headers.delete('content-length');
  },
  onRequestData(chunk) {
    if (chunk.end) return `${chunk.text()}<end:${chunk.bytes.length}>`;
  },
  onResponseHeaders(res) {
    res.headers.delete('content-length');
  },
  onResponseData(chunk) {
    if (chunk.end) return `${chunk.text()}<end:${chunk.bytes.length}>`;
  },
});

// trailers in both directions
exports.trailers = defineFilter({
  onRequestTrailers(trailers) {
    trailers.set('x-client-trailer', `seen:${trailers.get('x-client-trailer')}`);
    trailers.append('x-filter-trailer', 'added');
  },
  async onResponseTrailers(trailers) {
    await sleep(5);
    trailers.set('x-up-trailer', `${trailers.get('x-up-trailer')}+js`);
  },
});

// local replies from the request headers and from a request body chunk
exports.gate = defineFilter({
  onRequestHeaders(req, ctx) {
    if (req.headers.has('x-deny'))
      return ctx.respond(403, `denied: ${req.headers.get('x-deny')}`, { 'x-denied-by': 'gate' });
  },
  onRequestData(chunk, ctx) {
    if (chunk.text().includes('forbidden')) return ctx.respond(422, 'forbidden word in body');
  },
});

// the response status rewritten after reading the whole response body, or a reply replacing it
exports.responseInspect = defineFilter({
  async onResponseHeaders(res, ctx) {
    const body = await res.body.text();
    if (body.includes('fail')) return ctx.respond(502, 'upstream said fail', { 'x-replaced': 'yes' });
    res.status = 299;
    res.headers.set('x-response-length', String(body.length));
  },
});

// per-route config, with zod schemas for both levels
exports.routed = defineFilter({
  config: z.object({ tag: z.string(), limit: z.number().int().positive().default(10) }).strict(),
  routeConfig: z.object({ tag: z.string().optional(), limit: z.number().int().positive().optional() }).strict(),
  onRequestHeaders(req, ctx) {
    req.headers.set('x-tag', ctx.config.tag);
    req.headers.set('x-limit', String(ctx.config.limit));
  },
});

// declared metrics
exports.metered = defineFilter({
  metrics: {
    hits: { type: 'counter', labels: ['method'] },
    inflight: { type: 'gauge' },
    sizes: { type: 'histogram' },
  },
  onRequestHeaders(req, ctx) {
    ctx.metrics.hits.inc(1, { method: req.method });
    ctx.metrics.inflight.inc(5);
    ctx.metrics.inflight.dec(2);
    ctx.metrics.sizes.record(req.path.length);
  },
});

// dynamic metadata, filter state and attributes, written on the request and read back on the response
exports.metadata = defineFilter({
  onRequestHeaders(req, ctx) {
    ctx.metadata.set('scenario', 'user', 'alice');
    ctx.metadata.set('scenario', 'score', 42.5);
    ctx.metadata.set('scenario', 'admin', true);
    ctx.filterState.set('scenario.state', 'kept');
    req.headers.set(
      'x-attr',
      [ctx.attribute('request.method'), ctx.attribute('request.path'), ctx.attribute('request.id')].join(' '),
    );
    req.headers.set('x-attr-source', String(ctx.attribute('source.address')));
  },
  onResponseHeaders(res, ctx) {
    const m = (k) => ctx.metadata.get('scenario', k);
    res.headers.set('x-meta', `${m('user')},${m('score')},${m('admin')},${m('missing')}`);
    res.headers.set('x-meta-types', `${typeof m('user')},${typeof m('score')},${typeof m('admin')}`);
    res.headers.set('x-state', String(ctx.filterState.get('scenario.state')));
    res.headers.set('x-attr-code', String(ctx.attribute('response.code')));
    res.headers.set('x-attr-source-port', typeof ctx.attribute('source.port'));
  },
});

// ctx.fetch to an Envoy cluster
exports.authFetch = defineFilter({
  async onRequestHeaders(req, ctx) {
    const cluster = req.headers.get('x-cluster') ?? 'auth';
    try {
      const res = await ctx.fetch(cluster, '/check?user=1', {
        method: 'POST',
        headers: { 'x-from': 'nodevoy', 'x-user': req.headers.get('x-user') ?? '' },
        body: 'ping',
        timeoutMs: Number(req.headers.get('x-timeout') ?? 2000),
      });
      if (res.status !== 200) return ctx.respond(403, `auth said ${res.status}: ${await res.text()}`);
      const seen = await res.json();
      req.headers.set('x-auth', `${seen.method} ${seen.path} ${seen.from} ${seen.body}`);
      req.headers.set('x-auth-role', res.headers.get('x-role') ?? 'none');
    } catch (e) {
      return ctx.respond(504, `fetch failed: ${e.name}: ${e.message}`, {
        'x-fetch-error': String(e instanceof FetchError),
      });
    }
  },
});

// handlers that throw and reject: a 500 local reply and nodevoy.errors{kind=handler}
exports.throws = defineFilter({
  onRequestHeaders(req) {
    if (req.headers.has('x-throw')) throw new Error('boom in request headers');
  },
  async onResponseHeaders(res) {
    await sleep(1);
    if (res.headers.get('x-reject') === '1') throw new TypeError('async boom in response headers');
  },
});

// a handler that takes longer than its async budget
exports.stall = defineFilter({
  async onRequestHeaders(req, ctx) {
    await sleep(1000);
    req.headers.set('x-too-late', 'yes');
  },
});

// a reply after the response headers went: the stream is reset
exports.lateReply = defineFilter({
  onResponseData(chunk, ctx) {
    if (chunk.text().includes('partial')) return ctx.respond(500, 'too late');
  },
});

// logging at several levels
exports.logs = defineFilter({
  onRequestHeaders(req, ctx) {
    ctx.log.info(`info-line ${req.path}`);
    ctx.log.debug('debug-line');
    ctx.log.warn('warn-line');
    req.headers.set('x-debug-enabled', String(ctx.log.enabled('debug')));
  },
});

// iteration as web Headers: sorted names, repeated values joined, set-cookie one per value, no pseudo-headers
const iteration = (headers) =>
  JSON.stringify({
    entries: [...headers].filter(([k]) => k.startsWith('x-it-') || k === 'set-cookie'),
    keys: [...headers.keys()].filter((k) => k.startsWith('x-it-')),
    values: [...headers.values()].filter((v) => v.startsWith('it:')),
    forEach: (() => {
      let n = 0;
      headers.forEach((v, k, h) => {
        if (k.startsWith('x-it-') && h === headers) n++;
      });
      return n;
    })(),
    pseudo: [...headers.keys()].some((k) => k.startsWith(':')),
    rawPseudo: headers
      .raw()
      .filter(([k]) => k.startsWith(':'))
      .map(([k]) => k)
      .sort(),
    rawDup: headers
      .raw()
      .filter(([k]) => k === 'x-it-dup')
      .map(([, v]) => v),
  });
exports.headerIteration = defineFilter({
  onRequestHeaders(req) {
    req.headers.set('x-iteration', iteration(req.headers));
  },
  onResponseHeaders(res) {
    res.headers.set('x-iteration', iteration(res.headers));
  },
});

// what handlers return: a web Response replies; any other value is a mistake that fails the stream
exports.returns = defineFilter({
  async onRequestHeaders(req) {
    const what = req.headers.get('x-return');
    if (what === 'response')
      return new Response('nope', { status: 401, headers: { 'x-why': 'token', 'content-type': 'text/x-nope' } });
    if (what === 'streamed') {
      await sleep(1);
      const body = new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode('part1,'));
          c.enqueue(new TextEncoder().encode('part2'));
          c.close();
        },
      });
      return new Response(body, { status: 429, headers: { 'retry-after': '7' } });
    }
    if (what === 'object') return { status: 401 };
    if (what === 'string') return 'done';
    if (what === 'huge') return new Response(new Uint8Array((1 << 20) + 1));
  },
  onResponseHeaders(res) {
    if (res.headers.get('x-return') === 'response') return new Response('replaced', { status: 502 });
    if (res.headers.get('x-return') === 'number') return 42;
  },
});
