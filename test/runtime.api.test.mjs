// The SDK's API, one test per feature, through the ABI host over real HTTP with real upstreams.
import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request, startUpstream, adminGet, runHostExpectFailure, hostConfig, freePort, sleep } from './lib/harness.mjs';
import { withHost } from './lib/setup.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const bundle = path.join(here, 'js', 'api-filters.cjs');
const js = (filterName, config = {}, extra = {}) => ({
  module: 'nodevoy',
  filterName,
  config: { module: bundle, config },
  ...extra,
});

t.test('bodies: chunk handlers transform and drop chunks as they stream', async (t) => {
  const { up, port } = await withHost(t, { filters: [js('uppercase')] });
  const r = await request(port, { method: 'POST', path: '/echo', body: 'hello body' });
  t.equal(r.status, 200);
  t.equal(up.requests.at(-1).body, 'HELLO BODY', 'the upstream got the transformed request body');
  t.match(r.body, /"BODY":"HELLO BODY"/, 'the response body was transformed too');
  const dropped = await request(port, { method: 'POST', path: '/echo', body: 'drop-me please' });
  t.equal(dropped.status, 200);
  t.equal(up.requests.at(-1).body, '', 'a null return dropped the chunk');
});

t.test('bodies: chunk views are zero-copy and detached after the call', async (t) => {
  const { port } = await withHost(t, { filters: [js('chunkStats')] });
  const body = 'x'.repeat(200000);
  const r = await request(port, { method: 'POST', path: '/s', body });
  t.equal(r.status, 200);
  t.equal(Number(r.headers['x-seen-bytes']), body.length, 'every byte passed through the chunk handler');
  t.ok(Number(r.headers['x-seen-chunks']) >= 1);
  t.equal(r.headers['x-kept-view-length'], '0', 'a view kept past its call is detached (length 0)');
});

t.test('bodies: the whole body, read and rewritten', async (t) => {
  const { up, port } = await withHost(t, { filters: [js('wholeBody')] });
  const cases = [
    ['replace', '{"wrapped":"abc"}'],
    ['append', 'abc+tail'],
    ['prepend', 'head+abc'],
    ['clear', ''],
    ['late', 'abc+late'],
  ];
  for (const [op, want] of cases) {
    const r = await request(port, { method: 'POST', path: `/w-${op}`, body: 'abc', headers: { 'x-op': op } });
    t.equal(r.status, 200, op);
    const seen = up.requests.at(-1);
    t.equal(seen.body, want, `${op}: the upstream got the rewritten body`);
    t.equal(seen.headers['content-length'], String(Buffer.byteLength(want)), `${op}: content-length follows the body`);
    t.equal(seen.headers['x-body-length'], '3');
  }
  const j = await request(port, {
    method: 'POST',
    path: '/j',
    body: '{"name":"nodevoy"}',
    headers: { 'x-op': 'json' },
  });
  t.equal(j.status, 200);
  t.equal(up.requests.at(-1).headers['x-json-name'], 'nodevoy', 'body.json() parses');
  const none = await request(port, { method: 'GET', path: '/empty', headers: { 'x-op': 'none' } });
  t.equal(none.status, 200, 'a request without a body reads as empty and is not held');
  t.equal(up.requests.at(-1).headers['x-body-length'], '0');
  const chunked = await request(port, {
    method: 'POST',
    path: '/c',
    body: ['part1-', 'part2'],
    headers: { 'x-op': 'append' },
  });
  t.equal(chunked.status, 200);
  t.equal(up.requests.at(-1).body, 'part1-part2+tail', 'a chunked body is read whole');
});

t.test('bodies: over the buffer limit ends in 413, as Envoy does', async (t) => {
  const { up, port } = await withHost(t, { filters: [js('wholeBody')], bufferLimit: 16384 });
  const before = up.requests.length;
  const r = await request(port, {
    method: 'POST',
    path: '/big',
    body: 'y'.repeat(100000),
    headers: { 'x-op': 'none' },
  });
  t.equal(r.status, 413);
  t.equal(up.requests.length, before, 'nothing reached the upstream');
});

t.test('bodies: a response handler reads the body, then rewrites status or replies', async (t) => {
  const { port } = await withHost(t, { filters: [js('wholeBody', { readResponse: true })] });
  const ok = await request(port, { method: 'POST', path: '/fine', body: 'x', headers: { 'x-op': 'none' } });
  t.equal(ok.status, 299, 'status rewritten after the body was seen');
  t.equal(Number(ok.headers['x-response-length']), ok.body.length);
  const bad = await request(port, {
    method: 'POST',
    path: '/bad',
    body: 'x',
    headers: { 'x-op': 'none', 'x-fail-upstream': '1' },
  });
  t.equal(bad.status, 502, 'a local reply replaced the buffered response');
  t.equal(bad.body, 'upstream said fail');
  t.equal(bad.headers['x-replaced'], 'yes');
});

t.test('bodies: the request body cannot be read once it went on (typed error)', async (t) => {
  const { port } = await withHost(t, { filters: [js('bodyReadAfterHeaders')] });
  const r = await request(port, { method: 'POST', path: '/late', body: 'abc' });
  t.equal(r.status, 200);
  t.equal(r.headers['x-error'], 'InvalidStateError:true');
});

t.test('trailers: read, set and add in both directions', async (t) => {
  const { up, port } = await withHost(t, { filters: [js('trailers')] });
  const r = await request(port, {
    method: 'POST',
    path: '/chunked-trailers',
    body: ['a', 'b'],
    trailers: { 'x-client-trailer': 'v1' },
  });
  t.equal(r.status, 200);
  const seen = up.requests.at(-1);
  t.equal(seen.trailers['x-client-trailer'], 'seen:v1', 'request trailer rewritten');
  t.equal(seen.trailers['x-filter-trailer'], 'added', 'request trailer added');
  t.equal(r.trailers['x-up-trailer'], 't+js', 'response trailer rewritten');
});

t.test('trailers: an async trailers handler parks and resumes the stream', async (t) => {
  const { up, port } = await withHost(t, { filters: [js('asyncTrailers')] });
  const r = await request(port, { method: 'POST', path: '/t', body: ['a', 'b'], trailers: { 'x-c': '1' } });
  t.equal(r.status, 200);
  t.equal(up.requests.at(-1).trailers['x-async-trailer'], 'yes');
  t.equal(up.requests.at(-1).body, 'ab');
});

t.test('replies from any phase: before response headers a local reply, after them a reset', async (t) => {
  const { up, port } = await withHost(t, { filters: [js('replies')] });
  const before = up.requests.length;
  const body = await request(port, { method: 'POST', path: '/b', body: 'a forbidden word' });
  t.equal(body.status, 403, 'reply from a request chunk handler');
  t.equal(body.body, 'forbidden word in body');
  const tr = await request(port, { method: 'POST', path: '/tr', body: ['x'], trailers: { 'x-deny': '1' } });
  t.equal(tr.status, 451, 'reply from a request trailers handler');
  t.ok(up.requests.length - before <= 1, 'the denied requests were not completed upstream');
  // The response headers already went to the client when the response chunk handler replies: the
  // stream must be reset, never finished as a complete 200 (the Go filter's "200 after SendLocalReply" bug).
  const late = await request(port, { path: '/reset-mid-body' }).then(
    (r) => ({ r }),
    (e) => ({ e }),
  );
  if (late.r) t.not(late.r.complete, true, 'the client never sees a complete response');
  else t.ok(late.e, 'the client sees the stream reset');
  const after = await request(port, { path: '/ok' });
  t.equal(after.status, 200, 'the host keeps serving');
});

t.test('per-route config: merged over the filter config, validated by schemas at config time', async (t) => {
  const { up, port } = await withHost(t, {
    filters: [js('routed', { tag: 'base', limit: 5 })],
    routes: [
      { prefix: '/a', perFilter: { routed: { perRouteName: 'routed', config: { config: { tag: 'route-a' } } } } },
      { prefix: '/' },
    ],
  });
  await request(port, { path: '/a/x' });
  t.equal(up.requests.at(-1).headers['x-tag'], 'route-a', 'the route override wins');
  t.equal(up.requests.at(-1).headers['x-limit'], '5', 'keys the route does not set come from the filter config');
  await request(port, { path: '/b' });
  t.equal(up.requests.at(-1).headers['x-tag'], 'base', 'other routes get the filter config');

  const port2 = await freePort();
  const bad = await runHostExpectFailure(
    hostConfig({ port: port2, filters: [js('routed', { tag: 7 })], clusters: { upstream: 1 } }),
  );
  t.match(
    bad.stderr,
    /filter_config\.config does not match the filter's schema/,
    'a filter config failing its schema is rejected',
  );
  t.match(bad.stderr, /tag/, "the schema's message names the field");
  const badRoute = await runHostExpectFailure(
    hostConfig({
      port: port2,
      filters: [js('routed', { tag: 'ok' })],
      clusters: { upstream: 1 },
      routes: [{ prefix: '/', perFilter: { routed: { perRouteName: 'routed', config: { config: { limit: -1 } } } } }],
    }),
  );
  t.match(
    badRoute.stderr,
    /per-route config .*does not match the filter's schema/,
    'a per-route config failing its schema is rejected',
  );
});

t.test("metrics: declared counters, gauges and histograms, and nodevoy's own, as host stats", async (t) => {
  const { port, adminPort } = await withHost(t, {
    filters: [
      { module: 'nodevoy', filterName: 'metered', config: { module: bundle, config: {}, js_time_histogram: true } },
    ],
  });
  for (let i = 0; i < 3; i++) await request(port, { path: '/m' });
  const r = await request(port, { method: 'POST', path: '/m', body: 'x' });
  t.equal(r.status, 200);
  const stats = await adminGet(adminPort, '/stats');
  t.match(stats, /^dynamicmodulescustom\.metered\.hits\.method\.GET: 3$/m, 'labelled counter');
  t.match(stats, /^dynamicmodulescustom\.metered\.hits\.method\.POST: 1$/m);
  t.match(stats, /^dynamicmodulescustom\.metered\.inflight: 7$/m, 'gauge');
  t.match(stats, /metered\.sizes/, 'histogram');
  t.match(stats, /^dynamicmodulescustom\.metered\.nodevoy\.requests: 4$/m, 'nodevoy counts streams handled');
  t.match(stats, /metered\.nodevoy\.js_time_us.*request_headers/, 'JS time per phase (js_time_histogram)');
});

t.test('metrics: nodevoy.js_time_us is off unless js_time_histogram asks; a non-boolean is refused', async (t) => {
  const { port, adminPort } = await withHost(t, { filters: [js('metered')] });
  t.equal((await request(port, { path: '/m' })).status, 200);
  const stats = await adminGet(adminPort, '/stats');
  t.match(stats, /^dynamicmodulescustom\.metered\.nodevoy\.requests: 1$/m);
  t.notMatch(stats, /js_time_us/, 'no histogram defined or recorded');
  const bad = await runHostExpectFailure(
    hostConfig({
      port: await freePort(),
      filters: [{ module: 'nodevoy', filterName: 'metered', config: { module: bundle, js_time_histogram: 'yes' } }],
      clusters: { upstream: 9 },
    }),
  );
  t.not(bad.code, 0);
  t.match(bad.stderr, /filter_config\.js_time_histogram must be true or false/);
});

t.test('logging: ctx.log and console land in the log at their levels', async (t) => {
  const { up, port, host } = await withHost(t, { filters: [js('logs')], hostOpts: { logLevel: 'info' } });
  await request(port, { path: '/logged' });
  await sleep(50);
  const log = host.stderr();
  t.match(
    log,
    /\[info\]\[dynamic_modules\] \[nodevoy\]\[logs\]\[\d+\] info-line \/logged/,
    'ctx.log.info with the stream id',
  );
  t.match(log, /\[warning\]\[dynamic_modules\].*warn-line/);
  t.notMatch(log, /debug-line/, 'a disabled level is not logged');
  t.match(log, /\[info\]\[dynamic_modules\] \[console\] console-log-line \{ n: 1 \}/, 'console.log formats like Node');
  t.match(log, /\[error\]\[dynamic_modules\] \[console\] console-error-line/);
  t.equal(up.requests.at(-1).headers['x-debug-enabled'], 'false');
});

t.test('ctx.fetch: a call to an Envoy cluster through http_callout', async (t) => {
  const auth = await startUpstream();
  t.teardown(() => auth.close());
  const { up, port } = await withHost(t, { filters: [js('clusterFetch')], clusters: { auth: auth.port } });
  const r = await request(port, { path: '/x', headers: { 'x-fetch-method': 'POST', 'x-fetch-body': 'ping' } });
  t.equal(r.status, 200);
  const seen = up.requests.at(-1).headers;
  t.equal(seen['x-auth-status'], '200');
  t.equal(seen['x-auth-path'], '/check?user=1');
  t.equal(seen['x-auth-from'], 'nodevoy', 'request headers went to the cluster');
  t.equal(seen['x-auth-body'], 'ping', 'the request body went to the cluster');
  t.equal(seen['x-auth-is-response'], 'true', 'a web-standard Response');
  const unknown = await request(port, { path: '/x', headers: { 'x-cluster': 'nope' } });
  t.equal(unknown.status, 504);
  t.match(unknown.body, /FetchError.*no such cluster/);
  const slow = await request(port, { path: '/x', headers: { 'x-fetch-path': '/stall', 'x-timeout': '200' } });
  t.equal(slow.status, 504, 'a cluster call past its timeout fails the fetch');
  t.equal(unknown.headers['x-fetch-error'], 'true', 'a typed FetchError');
});

t.test(
  'ctx.fetch: a path with a method and a header record reaches the cluster as the same call through a Request',
  async (t) => {
    const auth = await startUpstream();
    t.teardown(() => auth.close());
    const { up, port } = await withHost(t, { filters: [js('fetchShapes')], clusters: { auth: auth.port } });
    const r = await request(port, { path: '/x' });
    t.equal(r.status, 200);
    const [direct, viaRequest, dup] = auth.requests;
    const wire = (x) => ({
      method: x.method,
      path: x.path,
      host: x.headers.host,
      case: x.headers['x-case'],
      two: x.headers['x-two'],
    });
    t.same(
      wire(direct),
      { method: 'DELETE', path: '/shape?q=1', host: 'auth', case: 'padded', two: 'b' },
      'method normalized, name lower-cased, value trimmed, host from the URL',
    );
    t.same(wire(direct), wire(viaRequest), 'identical to the web Request path');
    t.equal(dup.headers['x-d'], 'a, b', 'a name given twice is combined, as Request does');
    t.equal(
      up.requests.at(-1).headers['x-bad-header'],
      'TypeError',
      "an invalid header name is refused by Request's own TypeError",
    );
  },
);

t.test('stream info: attributes, dynamic metadata, filter state, route cache', async (t) => {
  const v2 = await startUpstream();
  t.teardown(() => v2.close());
  const { up, port } = await withHost(t, {
    filters: [js('info')],
    clusters: { v2: v2.port },
    routes: [
      { prefix: '/v2', cluster: 'v2' },
      { prefix: '/', cluster: 'upstream' },
    ],
  });
  const r = await request(port, { path: '/i', headers: { 'x-request-id': 'rid-1' } });
  t.equal(r.status, 200);
  const seen = up.requests.at(-1).headers;
  t.equal(seen['x-attr-method'], 'GET');
  t.equal(seen['x-attr-id'], 'rid-1');
  t.match(seen['x-attr-source'], /^127\.0\.0\.1:\d+$/);
  t.equal(seen['x-attr-source-port-type'], 'number');
  t.equal(r.headers['x-meta'], 'alice,42.5,true', 'dynamic metadata written and read back (string, number, bool)');
  t.equal(r.headers['x-state'], 'kept', 'filter state written and read back');
  t.equal(r.headers['x-attr-code'], '200');
  t.equal(r.headers['x-missing-meta'], 'undefined');
  await request(port, { path: '/moved', headers: { 'x-reroute': '1' } });
  t.equal(v2.requests.at(-1)?.path, '/v2/moved', 'clearRouteCache re-picked the route after :path changed');
});

t.test('stream info: upstream host override picks the endpoint; strict fails outside the cluster', async (t) => {
  const a = await startUpstream();
  const b = await startUpstream();
  const outside = await startUpstream();
  t.teardown(() => Promise.all([a.close(), b.close(), outside.close()]));
  const { port } = await withHost(t, {
    filters: [js('override')],
    clusters: { pair: [a.port, b.port] },
    routes: [{ prefix: '/', cluster: 'pair' }],
  });
  for (let i = 0; i < 4; i++) {
    const r = await request(port, { path: `/b${i}`, headers: { 'x-override-host': `127.0.0.1:${b.port}` } });
    t.equal(r.headers['x-accepted'], 'true');
  }
  t.equal(b.requests.length, 4, 'every request went to the chosen endpoint');
  t.equal(a.requests.length, 0);
  const bad = await request(port, { path: '/x', headers: { 'x-override-host': 'not-an-address' } });
  t.equal(bad.headers['x-accepted'], 'false', 'a value that is not ip:port is refused');
  const loose = await request(port, { path: '/loose', headers: { 'x-override-host': `127.0.0.1:${outside.port}` } });
  t.equal(loose.status, 200, 'a non-strict override outside the cluster falls back to load balancing');
  t.equal(outside.requests.length, 0);
  const strict = await request(port, {
    path: '/strict',
    headers: { 'x-override-host': `127.0.0.1:${outside.port}`, 'x-strict': '1' },
  });
  t.equal(strict.status, 503, 'a strict override outside the cluster has no healthy upstream');
});

// An upstream that hashes what it receives instead of keeping it (64 MiB would not fit the echo upstream).
async function hashingUpstream() {
  const { createServer } = await import('node:http');
  const { createHash } = await import('node:crypto');
  const server = createServer((req, res) => {
    const h = createHash('sha256');
    let n = 0;
    req.on('data', (d) => {
      h.update(d);
      n += d.length;
    });
    req.on('end', () => {
      const out = JSON.stringify({ sha256: h.digest('hex'), length: n });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(out.length) });
      res.end(out);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  };
}

t.test(
  'bodies: 64 MiB streamed through a chunk transform, 1 MiB read whole; bytes copied into the JS heap',
  async (t) => {
    const { createHash } = await import('node:crypto');
    const hashed = await hashingUpstream();
    t.teardown(() => hashed.close());
    const { port } = await withHost(t, {
      filters: [js('copyMeter')],
      clusters: { hashed: hashed.port },
      routes: [{ prefix: '/', cluster: 'hashed' }],
      hostOpts: { concurrency: 1 },
    });
    const block = Buffer.alloc(1 << 20);
    for (let i = 0; i < block.length; i++) block[i] = 97 + (i % 26);
    const chunks = Array.from({ length: 64 }, () => block);
    const want = createHash('sha256');
    const upperBlock = Buffer.from(block.toString('latin1').toUpperCase(), 'latin1');
    for (let i = 0; i < 64; i++) want.update(upperBlock);
    const r = await request(port, { method: 'POST', path: '/big', body: chunks, timeoutMs: 120000 });
    t.equal(r.status, 200);
    const got = JSON.parse(r.body);
    t.equal(got.length, 64 << 20, 'all 64 MiB arrived');
    t.equal(got.sha256, want.digest('hex'), 'every byte transformed correctly');
    t.equal(r.headers['x-copied'], '0', 'chunk views copied no body byte into the JS heap');

    const whole = await withHost(t, { filters: [js('wholeMeter')], hostOpts: { concurrency: 1 } });
    const mib = Buffer.alloc(1 << 20, 7);
    const w = await request(whole.port, { method: 'POST', path: '/whole', body: mib });
    t.equal(w.status, 200);
    t.equal(whole.up.requests.at(-1).body.length, 1 << 20, 'the 1 MiB body went on intact');
    t.equal(w.headers['x-copied'], String(1 << 20), 'a whole-body read copies the body exactly once');
    t.equal(whole.up.requests.at(-1).headers['x-sampled'], String(7 * 256));
  },
);
