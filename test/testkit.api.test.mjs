// Unit tests of nodevoy/testing itself: the clock, the buffer limit, fake clusters, config rejection,
// logs, metrics, stream info and the two ways to name a filter.
import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineFilter, FetchError } from 'nodevoy';
import { createClock, FilterConfigError, loadFilter, runFilter } from 'nodevoy/testing';

const here = path.dirname(fileURLToPath(import.meta.url));
const scenarioFilters = path.join(here, 'js', 'scenario-filters.cjs');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

t.test('clock: handlers awaiting timers wait for advance()', async (t) => {
  const seen = [];
  const f = defineFilter({
    async onRequestHeaders(req) {
      const t0 = Date.now();
      await sleep(1000);
      seen.push(Date.now() - t0);
      req.headers.set('x-now', String(Date.now()));
      req.headers.set('x-date', new Date().toISOString());
    },
  });
  const clock = createClock({ now: Date.UTC(2030, 0, 1) });
  let done = false;
  const run = runFilter(f, { clock }).finally(() => (done = true));
  await clock.advance(999);
  t.equal(done, false, 'not yet at 999 ms');
  t.ok(clock.pending >= 1, "the handler's timer is pending");
  t.same(seen, []);
  await clock.advance(1);
  const r = await run;
  t.same(seen, [1000], 'Date.now moved with the clock');
  t.equal(r.upstreamRequest.headers['x-now'], String(Date.UTC(2030, 0, 1) + 1000));
  t.equal(r.upstreamRequest.headers['x-date'], '2030-01-01T00:00:01.000Z', 'new Date() is fake too');
  t.equal(clock.now(), Date.UTC(2030, 0, 1) + 1000);
  t.ok(Math.abs(Date.now() - Date.UTC(2030, 0, 1)) > 1000, 'the real Date is back after the run');
  t.equal(typeof setTimeout(() => {}, 0).unref, 'function', 'the real setTimeout is back');
});

t.test('clock: next(), runAll() and intervals', async (t) => {
  const f = defineFilter({
    async onRequestHeaders(req) {
      let ticks = 0;
      await new Promise((resolve) => {
        const iv = setInterval(() => {
          if (++ticks === 3) {
            clearInterval(iv);
            resolve();
          }
        }, 100);
      });
      await sleep(50);
      req.headers.set('x-ticks', String(ticks));
    },
  });
  const clock = createClock({ now: 0 });
  const run = runFilter(f, { clock });
  t.equal(await clock.next(), true, 'next() fired the first tick');
  t.equal(clock.now(), 100);
  await clock.runAll();
  const r = await run;
  t.equal(r.upstreamRequest.headers['x-ticks'], '3');
  t.equal(clock.now(), 350, 'three ticks then 50 ms');
  t.equal(await clock.next(), false, 'nothing left');
});

t.test('clock: ctx.fetch timeouts run on the clock', async (t) => {
  const clock = createClock();
  const run = runFilter(
    { module: scenarioFilters, filterName: 'authFetch' },
    {
      clock,
      request: { headers: { 'x-timeout': '3000' } },
      clusters: { auth: () => new Promise(() => {}) },
    },
  );
  await clock.advance(2999);
  t.equal(clock.pending > 0, true, 'still waiting at 2999 ms');
  await clock.advance(1);
  const r = await run;
  t.equal(r.response.status, 403);
  t.equal(r.response.body, 'auth said 504: upstream request timeout');
  t.equal(r.callouts.length, 1);
  t.equal(r.callouts[0].timedOut, true);
});

t.test('clock: a run that waits on the clock fails after timeoutMs, naming what waits', async (t) => {
  const f = defineFilter({
    async onRequestHeaders() {
      await sleep(60000);
    },
  });
  const clock = createClock();
  await t.rejects(
    runFilter(f, { clock, timeoutMs: 200 }),
    /did not complete within 200 ms \(real time\): the onRequestHeaders handler is still awaiting; \d+ timer\(s\) are pending on the test clock/,
  );
});

t.test('clock: runs on different clocks at once; code outside runs keeps real time', async (t) => {
  const f = defineFilter({
    async onRequestHeaders(req) {
      await sleep(req.path === '/a' ? 100 : 200);
      req.headers.set('x-at', String(Date.now()));
    },
  });
  const a = createClock({ now: 0 });
  const b = createClock({ now: 5000 });
  const runA = runFilter(f, { clock: a, request: { path: '/a' } });
  const runB = runFilter(f, { clock: b, request: { path: '/b' } });
  const realNow = Date.now();
  t.ok(realNow > 1e12, 'the test itself sees the real Date during the runs');
  const realTimer = await new Promise((resolve) => setTimeout(() => resolve('fired'), 5));
  t.equal(realTimer, 'fired', 'and real timers');
  await b.advance(200);
  await a.advance(100);
  t.equal((await runA).upstreamRequest.headers['x-at'], '100');
  t.equal((await runB).upstreamRequest.headers['x-at'], '5200');
});

t.test('buffer limit: 413 for a request, 500 for a response a handler buffers', async (t) => {
  const reader = defineFilter({
    async onRequestHeaders(req) {
      await req.body.bytes();
    },
    async onResponseHeaders(res) {
      await res.body.bytes();
    },
  });
  const chunks = (n, size) => Array.from({ length: n }, () => 'z'.repeat(size));
  const big = await runFilter(reader, { bufferLimit: 1000, request: { method: 'POST', body: chunks(3, 600) } });
  t.equal(big.response.status, 413);
  t.equal(big.response.body, 'Payload Too Large');
  t.equal(big.localReply.details, 'request_payload_too_large');
  t.equal(big.upstreamRequest?.complete ?? false, false);
  const bigResponse = await runFilter(reader, {
    bufferLimit: 1000,
    upstream: () => ({ status: 200, body: chunks(3, 600) }),
  });
  t.equal(bigResponse.response.status, 500);
  t.equal(bigResponse.localReply.details, 'response_payload_too_large');
  const fits = await runFilter(reader, {
    bufferLimit: 1000,
    request: { method: 'POST', body: chunks(3, 300) },
    upstream: (req) => ({ status: 200, body: req.body.slice(0, 10) }),
  });
  t.equal(fits.response.status, 200);
  t.equal(fits.upstreamRequest.body.length, 900);
  const passThrough = await runFilter(defineFilter({ onRequestHeaders() {} }), {
    bufferLimit: 1000,
    request: { method: 'POST', body: chunks(3, 600) },
  });
  t.equal(passThrough.response.status, 200, 'a body nobody buffers is not limited');
  const onePiece = await runFilter(reader, { bufferLimit: 1000, request: { method: 'POST', body: 'z'.repeat(1500) } });
  t.equal(onePiece.response.status, 413, 'one piece over the limit: buffered before its end arrives, as over HTTP/1.1');
});

t.test('fake clusters: what ctx.fetch sent and got, unknown clusters, failing clusters', async (t) => {
  const f = defineFilter({
    async onRequestHeaders(req, ctx) {
      try {
        const res = await ctx.fetch(req.headers.get('x-cluster') ?? 'auth', new URL('http://auth.local/v1/check?x=1'), {
          method: 'PUT',
          headers: { 'x-token': 'abc' },
          body: 'payload',
        });
        req.headers.set('x-status', String(res.status));
        req.headers.set('x-body', await res.text());
      } catch (e) {
        return ctx.respond(502, `${e.name}: ${e.message}`, { 'x-fetch-error': String(e instanceof FetchError) });
      }
    },
  });
  const clusters = {
    auth: async (req) =>
      new Response(`hi ${req.headers.get('x-token')} ${await req.text()}`, {
        status: 201,
        headers: { 'x-auth': 'yes' },
      }),
    broken: () => {
      throw new Error('cluster down');
    },
  };
  const ok = await runFilter(f, { clusters });
  t.equal(ok.upstreamRequest.headers['x-status'], '201');
  t.equal(ok.upstreamRequest.headers['x-body'], 'hi abc payload');
  t.equal(ok.callouts.length, 1);
  const c = ok.callouts[0];
  t.equal(c.cluster, 'auth');
  t.same(
    {
      method: c.request.method,
      path: c.request.path,
      authority: c.request.authority,
      token: c.request.headers['x-token'],
      body: c.request.body,
    },
    { method: 'PUT', path: '/v1/check?x=1', authority: 'auth.local', token: 'abc', body: 'payload' },
  );
  t.equal(c.response.status, 201);
  t.equal(c.response.headers['x-auth'], 'yes');
  t.equal(c.timedOut, false);

  const unknown = await runFilter(f, { clusters, request: { headers: { 'x-cluster': 'nope' } } });
  t.equal(unknown.response.status, 502);
  t.equal(unknown.response.body, 'FetchError: ctx.fetch to cluster "nope" failed: no such cluster');
  t.equal(unknown.response.headers['x-fetch-error'], 'true');
  t.equal(unknown.callouts.length, 0);

  const broken = await runFilter(f, { clusters, request: { headers: { 'x-cluster': 'broken' } } });
  t.equal(
    broken.upstreamRequest.headers['x-status'],
    '503',
    'a throwing cluster is an upstream reset: Envoy answers 503',
  );
  t.match(broken.callouts[0].error, /cluster down/);
});

t.test('config: schemas reject like Envoy config time', async (t) => {
  const zodLike = (check) => ({
    parse: (v) => {
      const m = check(v);
      if (m) throw new Error(m);
      return v;
    },
  });
  const f = defineFilter({
    config: zodLike((v) => (typeof v.tag !== 'string' ? 'tag: expected string' : '')),
    routeConfig: zodLike((v) => ('limit' in v && !(v.limit > 0) ? 'limit: must be positive' : '')),
    onRequestHeaders(req, ctx) {
      req.headers.set('x-config', JSON.stringify(ctx.config));
    },
  });
  await t.rejects(runFilter(f, { filterName: 'tagged', config: { tag: 7 } }), {
    name: 'FilterConfigError',
    message:
      'cannot load filter "tagged" from <inline definition>: filter_config.config does not match the filter\'s schema: tag: expected string',
  });
  await t.rejects(runFilter(f, { filterName: 'tagged', config: { tag: 'a' }, routeConfig: { limit: -1 } }), {
    message:
      'per-route config for filter "tagged" rejected: per-route config does not match the filter\'s schema: limit: must be positive',
  });
  await t.rejects(runFilter(f, { config: { tag: 'a' }, routeConfig: ['not', 'an', 'object'] }), {
    message: 'per-route filter_config.config must be a JSON object (the fields it overrides)',
  });
  const merged = await runFilter(f, { config: { tag: 'a', limit: 1 }, routeConfig: { limit: 2 } });
  t.same(
    JSON.parse(merged.upstreamRequest.headers['x-config']),
    { tag: 'a', limit: 2 },
    'the route config is merged over the filter config',
  );

  const loaded = await loadFilter(f, { config: { tag: 'b' } });
  await t.rejects(loaded.run({ routeConfig: { limit: 0 } }), FilterConfigError, "a run's route config is checked too");
  t.equal(
    (await loaded.run({ routeConfig: { limit: 3 } })).upstreamRequest.headers['x-config'],
    '{"tag":"b","limit":3}',
  );

  await t.rejects(
    runFilter({ module: scenarioFilters, filterName: 'nope' }),
    /cannot load filter "nope" from .*scenario-filters\.cjs: no filter named "nope"/,
  );
  await t.rejects(
    runFilter({ module: '/does/not/exist.js', filterName: 'x' }),
    /module file \/does\/not\/exist\.js does not exist/,
  );
  await t.rejects(
    runFilter({ module: 'no/such/bundle.js', filterName: 'x' }),
    {
      message: `cannot load filter "x" from ${path.resolve('no/such/bundle.js')}: module file ${path.resolve('no/such/bundle.js')} does not exist`,
    },
    'a relative path is relative to the working directory, as in Envoy',
  );
  await t.rejects(runFilter({ filterName: 'x' }), TypeError);
});

t.test(
  'close(): the config and its route configs go once the runs in flight finished; later runs reject',
  async (t) => {
    let release;
    const gate = new Promise((r) => (release = r));
    const f = defineFilter({
      routeConfig: { parse: (v) => v },
      async onRequestHeaders(req, ctx) {
        await gate;
        req.headers.set('x-config', JSON.stringify(ctx.config));
      },
    });
    const filter = await loadFilter(f, { config: { tag: 'c' }, routeConfig: { limit: 1 } });
    const run = filter.run();
    const closed = filter.close();
    let isClosed = false;
    closed.then(() => (isClosed = true));
    await sleep(50);
    t.equal(isClosed, false, 'close() waits for the run in flight');
    t.notMatch(filter.logs.map((l) => l.message).join('\n'), /unloaded/, 'nothing unloaded yet');
    release();
    t.equal((await run).upstreamRequest.headers['x-config'], '{"tag":"c","limit":1}', 'the run completed');
    await closed;
    t.match(
      filter.logs.map((l) => l.message).join('\n'),
      /environment unloaded 1 filter instance\(s\) of destroyed configs/,
      'the module unloaded the instance',
    );
    t.equal(filter.close(), closed, 'close() again: the same promise');
    await t.rejects(filter.run(), { message: 'nodevoy/testing: filter "filter" is closed' });

    // A run that timed out left its stream to be reset: close() waits for that stream's destroy.
    const stuck = await loadFilter(defineFilter({ onRequestHeaders: () => new Promise(() => {}) }), {
      filterName: 'stuck',
    });
    await t.rejects(stuck.run({ timeoutMs: 50 }), { message: /did not complete within 50 ms/ });
    await stuck.close();
    t.match(stuck.logs.map((l) => l.message).join('\n'), /unloaded 1 filter instance/, 'the stuck one unloaded too');
  },
);

t.test('logs: levels, the log level, console capture', async (t) => {
  const f = defineFilter({
    onRequestHeaders(req, ctx) {
      ctx.log.debug('a debug line');
      ctx.log.info(`info ${req.path}`);
      ctx.log.error('an error line');
      console.log('from console', { n: 1 });
      req.headers.set('x-debug', String(ctx.log.enabled('debug')));
    },
  });
  const atInfo = await runFilter(f, { filterName: 'logger', request: { path: '/p' } });
  t.same(
    atInfo.logs.map((l) => l.level),
    ['info', 'error'],
  );
  t.match(atInfo.logs[0].message, /^\[nodevoy\]\[logger\]\[\d+\] info \/p$/);
  t.equal(atInfo.upstreamRequest.headers['x-debug'], 'false');
  const atDebug = await runFilter(f, { logLevel: 'debug', captureConsole: true });
  t.same(
    atDebug.logs.map((l) => l.level),
    ['debug', 'info', 'error', 'info'],
  );
  t.equal(atDebug.logs[3].message, '[console] from console { n: 1 }');
  t.equal(atDebug.upstreamRequest.headers['x-debug'], 'true');
  const quiet = await runFilter(f, { logLevel: 'off' });
  t.same(quiet.logs, []);
  const failing = await runFilter(
    defineFilter({
      onRequestHeaders() {
        throw new RangeError('nope');
      },
    }),
  );
  t.equal(failing.response.status, 500);
  t.equal(failing.localReply.details, 'nodevoy_handler_failed');
  t.match(failing.logs[0], { level: 'error', message: /onRequestHeaders handler threw: RangeError: nope/ });
});

t.test("metrics: declared and nodevoy's own, accumulated across runs of a loaded filter", async (t) => {
  const f = defineFilter({
    metrics: { hits: { type: 'counter', labels: ['method'] }, depth: { type: 'gauge' }, size: { type: 'histogram' } },
    onRequestHeaders(req, ctx) {
      ctx.metrics.hits.inc(1, { method: req.method });
      ctx.metrics.depth.set(4);
      ctx.metrics.size.record(req.path.length);
      if (req.headers.has('x-bad')) ctx.metrics.hits.inc(1); // labels missing: throws
    },
  });
  const loaded = await loadFilter(f, { filterName: 'm', jsTimeHistogram: true });
  await loaded.run({ request: { path: '/a' } });
  await loaded.run({ request: { path: '/abc', method: 'POST' } });
  const r = await loaded.run({ request: { path: '/', headers: { 'x-bad': '1' } } });
  t.equal(r.response.status, 500, 'a metric without its labels is a TypeError in the handler');
  const m = r.metrics;
  t.equal(m.counter('m.hits', { method: 'GET' }), 2);
  t.equal(m.counter('hits', { method: 'POST' }), 1, 'the short name works too');
  t.equal(m.counter('hits', { method: 'PUT' }), 0);
  t.equal(m.gauge('depth'), 4);
  t.same(m.histogram('size'), [2, 4, 1]);
  t.equal(m.counter('nodevoy.requests'), 3);
  t.equal(m.counter('nodevoy.errors', { kind: 'handler' }), 1);
  t.equal(m.histogram('nodevoy.js_time_us', { phase: 'request_headers' }).length, 3);
  t.same(
    loaded.metrics.all.find((s) => s.name === 'm.depth'),
    { type: 'gauge', name: 'm.depth', labels: {}, value: 4 },
  );
  t.ok(loaded.logs.length >= 1, 'the loaded filter keeps every log line');
});

t.test('stream info: metadata, filter state, attributes, override host, route cache', async (t) => {
  const f = defineFilter({
    onRequestHeaders(req, ctx) {
      req.headers.set('x-route-meta', String(ctx.metadata.get('envoy.lb', 'canary', 'route')));
      req.headers.set('x-initial', String(ctx.metadata.get('ns', 'pre')));
      req.headers.set('x-state-in', String(ctx.filterState.get('in')));
      ctx.metadata.set('ns', 'set', 1.5);
      ctx.filterState.set('out', new TextEncoder().encode('bytes'));
      req.headers.set(
        'x-attrs',
        [
          'request.host',
          'request.url_path',
          'request.query',
          'source.address',
          'source.port',
          'destination.port',
          'request.protocol',
          'response.code',
        ]
          .map((a) => `${a}=${ctx.attribute(a)}`)
          .join(' '),
      );
      req.headers.set(
        'x-override',
        `${ctx.setUpstreamOverrideHost('10.0.0.1:8080', true)},${ctx.setUpstreamOverrideHost('not-an-ip:1')}`,
      );
      ctx.clearRouteCache();
    },
    onResponseHeaders(res, ctx) {
      res.headers.set('x-code', String(ctx.attribute('response.code')));
      res.headers.set('x-user-agent', String(ctx.attribute('request.useragent')));
    },
  });
  const r = await runFilter(f, {
    request: { path: '/p/q?x=1', authority: 'example.com', headers: { 'user-agent': 'tap' } },
    metadata: { route: { 'envoy.lb': { canary: true } }, dynamic: { ns: { pre: 'here' } } },
    filterState: { in: 'given' },
    attributes: { 'source.address': '10.1.2.3:5555', 'request.useragent': null },
  });
  const up = r.upstreamRequest.headers;
  t.equal(up['x-route-meta'], 'true');
  t.equal(up['x-initial'], 'here');
  t.equal(up['x-state-in'], 'given');
  t.equal(
    up['x-attrs'],
    'request.host=example.com request.url_path=/p/q request.query=x=1 source.address=10.1.2.3:5555 source.port=5555 destination.port=10000 request.protocol=HTTP/1.1 response.code=undefined',
  );
  t.equal(up['x-override'], 'true,false');
  t.equal(up.host, 'example.com');
  t.equal(r.response.headers['x-code'], '200');
  t.equal(r.response.headers['x-user-agent'], 'undefined', 'an attribute overridden with null is absent');
  t.same(r.metadata, { ns: { pre: 'here', set: 1.5 } });
  t.same(r.filterState, { in: 'given', out: 'bytes' });
  t.same(r.upstreamOverrideHost, { host: '10.0.0.1:8080', strict: true });
  t.equal(r.routeCacheCleared, 1);
});

t.test('bodies: chunk views are detached after the call; content-length follows rewrites', async (t) => {
  let kept;
  const f = defineFilter({
    onRequestData(chunk) {
      kept = chunk.bytes;
    },
    async onResponseHeaders(res) {
      const body = await res.body.text();
      res.body.replace(`${body.toUpperCase()}!`);
      res.headers.set('x-kept-length', String(kept.byteLength));
    },
  });
  const r = await runFilter(f, {
    request: { method: 'POST', body: 'abc' },
    upstream: () => ({ status: 200, body: 'hello' }),
  });
  t.equal(r.response.headers['x-kept-length'], '0', 'a view kept past its call is detached (length 0)');
  t.equal(r.response.body, 'HELLO!');
  t.equal(r.response.headers['content-length'], '6');
});

t.test('requests and upstreams: defaults, echo, framing, trailers, upstream resets', async (t) => {
  const f = defineFilter({});
  const r = await runFilter(f, {
    request: { method: 'PATCH', path: '/e?q=1', headers: { 'x-a': ['1', '2'], Connection: 'keep-alive' }, body: 'hey' },
  });
  const echoed = JSON.parse(r.response.body);
  t.same(
    { method: echoed.method, path: echoed.path, body: echoed.body },
    { method: 'PATCH', path: '/e?q=1', body: 'hey' },
  );
  t.equal(echoed.headers.host, 'localhost');
  t.equal(echoed.headers['x-a'], '1, 2');
  t.equal(echoed.headers['content-length'], '3', 'a one-piece body gets a content-length');
  t.equal(echoed.headers.connection, undefined, 'hop-by-hop headers are dropped');
  t.match(echoed.headers['x-request-id'], /^[0-9a-f-]{36}$/);
  t.equal(echoed.headers['x-forwarded-proto'], 'http');
  t.same(r.upstreamRequest.headerList.slice(0, 3), [
    ['host', 'localhost'],
    ['x-a', '1'],
    ['x-a', '2'],
  ]);
  t.equal(r.response.complete, true);

  const reset = await runFilter(f, { upstream: () => ({ reset: true }) });
  t.equal(reset.response.status, 503);
  t.match(reset.response.body, /upstream connect error or disconnect\/reset before headers/);
  t.equal(reset.localReply.details, 'upstream_reset_before_response_started{connection_termination}');

  await t.rejects(
    runFilter(f, {
      upstream: () => {
        throw new Error('test bug');
      },
    }),
    /test bug/,
    'an upstream handler that throws fails the run',
  );
});

t.test('a reply after the response headers went: reset, partial response', async (t) => {
  const f = defineFilter({
    onResponseData(chunk, ctx) {
      if (chunk.text() === 'second') return ctx.respond(500, 'late');
    },
  });
  const r = await runFilter(f, { upstream: () => ({ status: 200, body: ['first,', 'second'] }) });
  t.equal(r.reset, true);
  t.equal(r.resetReason, 'nodevoy_reply_after_response_headers');
  t.equal(r.response.status, 200, 'the client had the status line');
  t.equal(r.response.body, 'first,', 'and the first chunk');
  t.equal(r.response.complete, false);
  t.equal(r.localReply, undefined);
});

t.test('failure policy and budgets (filter_config failure_mode, failure_status, *_budget_ms)', async (t) => {
  const thrower = defineFilter({
    onRequestHeaders(req) {
      if (req.headers.has('x-throw')) throw new Error('boom');
    },
  });
  const open = await runFilter(thrower, { failureMode: 'fail_open', request: { headers: { 'x-throw': '1' } } });
  t.equal(open.response.status, 200, 'fail_open: the stream goes on');
  t.ok(open.upstreamRequest?.complete);
  t.equal(open.metrics.counter('nodevoy.errors', { kind: 'handler' }), 1, 'and the failure is counted');
  const closed = await runFilter(thrower, { failureStatus: 503, request: { headers: { 'x-throw': '1' } } });
  t.equal(closed.response.status, 503, 'failure_status');
  await t.rejects(runFilter(thrower, { failureMode: 'maybe' }), {
    message: 'filter_config.failure_mode must be "fail_closed" or "fail_open"',
  });
  await t.rejects(runFilter(thrower, { failureStatus: 99 }), {
    message: 'filter_config.failure_status must be an integer from 200 to 599',
  });

  const slow = defineFilter({
    async onRequestHeaders() {
      await sleep(60000);
    },
  });
  const clock = createClock();
  const run = runFilter(slow, { clock, asyncBudgetMs: 2000 });
  await clock.advance(2000);
  const timedOut = await run;
  t.equal(timedOut.response.status, 504);
  t.equal(timedOut.response.body, 'nodevoy: the filter did not finish in time\n');
  t.equal(timedOut.localReply.details, 'nodevoy_handler_timeout');
  t.equal(timedOut.metrics.counter('nodevoy.errors', { kind: 'timeout' }), 1);
  t.match(timedOut.logs.map((l) => l.message).join('\n'), /onRequestHeaders handler did not settle within 2000 ms/);

  const busy = defineFilter({
    onRequestHeaders() {
      const end = performance.now() + 30;
      while (performance.now() < end);
    },
  });
  const spun = await runFilter(busy, { syncBudgetMs: 5 });
  t.equal(spun.response.status, 504, 'a call past sync_budget_ms counts as a timeout');
  t.match(spun.logs[0].message, /JS ran past its synchronous time budget of 5 ms/);
});
