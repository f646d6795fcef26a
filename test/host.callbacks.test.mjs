// ABI host: the callbacks a module calls (callouts, metrics, per-route config, attributes, logging).
import t from 'tap';
import { adminGet, freePort, hostConfig, request, startHost, startUpstream, waitFor } from './lib/harness.mjs';
import { fx, withHost } from './lib/setup.mjs';

t.test('http callout to a named cluster', async (t) => {
  const side = await startUpstream((req, res) => {
    res.writeHead(201, { 'content-type': 'text/plain' });
    res.end(`side says hi to ${req.url}`);
  });
  t.teardown(() => side.close());
  const { port, up } = await withHost(t, {
    filters: [fx('callout', { cluster: 'side', path: '/side/check', timeout_ms: 5000 })],
    clusters: { side: side.port },
  });
  const r = await request(port, { path: '/main' });
  t.equal(r.status, 200);
  t.equal(side.requests.length, 1, 'the side cluster got the callout');
  t.equal(side.requests[0].path, '/side/check');
  t.equal(side.requests[0].method, 'GET');
  t.equal(side.requests[0].headers.host, 'side', 'host header from the callout headers');
  const h = up.requests[0].headers;
  t.equal(h['x-callout-result'], '0', 'Success');
  t.equal(h['x-callout-status'], '201');
  t.equal(h['x-callout-body'], 'side says hi to /side/check');
  t.equal(JSON.parse(r.body).path, '/main', 'the main request continued after callout_done');

  // several in parallel, each stream gets its own answer
  const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => request(port, { path: `/m${i}` })));
  t.ok(rs.every((x, i) => x.status === 200 && JSON.parse(x.body).path === `/m${i}`));
  t.equal(side.requests.length, 11);
});

t.test('callout to an unknown cluster fails at init (ClusterNotFound = 2)', async (t) => {
  const { port, up } = await withHost(t, { filters: [fx('callout', { cluster: 'nope' })] });
  const r = await request(port, { path: '/x' });
  t.equal(r.status, 500);
  t.equal(r.body, 'callout init failed: 2');
  t.equal(up.requests.length, 0);
});

t.test("callout timeout answers 504 (as Envoy's async client does)", async (t) => {
  const side = await startUpstream();
  t.teardown(() => side.close());
  const { port, up } = await withHost(t, {
    filters: [fx('callout', { cluster: 'side', path: '/stall', timeout_ms: 300 })],
    clusters: { side: side.port },
  });
  const start = Date.now();
  const r = await request(port, { path: '/t' });
  const elapsed = Date.now() - start;
  t.equal(r.status, 200);
  t.equal(up.requests[0].headers['x-callout-status'], '504');
  t.equal(up.requests[0].headers['x-callout-body'], 'upstream request timeout');
  t.ok(elapsed >= 290, `waited for the timeout (${elapsed} ms)`);
  t.equal(side.requests.length, 1, 'the side cluster saw the callout that timed out');
});

t.test('callout to a cluster that resets gets a 503', async (t) => {
  const side = await startUpstream();
  t.teardown(() => side.close());
  const { port, up } = await withHost(t, {
    filters: [fx('callout', { cluster: 'side', path: '/reset-before-headers' })],
    clusters: { side: side.port },
  });
  const r = await request(port, { path: '/r' });
  t.equal(r.status, 200);
  t.equal(up.requests[0].headers['x-callout-status'], '503');
  t.match(up.requests[0].headers['x-callout-body'], /upstream connect error/);
});

t.test('metrics: counter with labels, gauge, histogram in /stats and /stats/prometheus', async (t) => {
  const { port, adminPort } = await withHost(t, { filters: [fx('metrics', {})] });
  for (let i = 0; i < 5; i++) t.equal((await request(port, { path: `/g${i}` })).status, 200);
  for (let i = 0; i < 2; i++)
    t.equal((await request(port, { method: 'POST', path: '/p', body: 'x'.repeat(10) })).status, 200);

  const stats = await waitFor(async () => {
    const s = await adminGet(adminPort, '/stats');
    return /dynamicmodulescustom\.fixture_requests\.method\.POST: 2/.test(s) && /fixture_active: 0\b/.test(s)
      ? s
      : false;
  });
  t.match(stats, /^dynamicmodulescustom\.fixture_requests\.method\.GET: 5$/m);
  t.match(stats, /^dynamicmodulescustom\.fixture_requests\.method\.POST: 2$/m);
  t.match(stats, /^dynamicmodulescustom\.fixture_active: 0$/m, 'gauge back to zero once streams completed');
  t.match(stats, /^dynamicmodulescustom\.fixture_sizes:/m, 'histogram present');

  // Histogram samples show once the stats are flushed (stats_flush_interval, 0.5 s in the harness).
  const prom = await waitFor(async () => {
    const p = await adminGet(adminPort, '/stats/prometheus');
    return /^envoy_dynamicmodulescustom_fixture_sizes_count\{\} 7$/m.test(p) ? p : false;
  });
  t.match(prom, /^envoy_dynamicmodulescustom_fixture_requests\{method="GET"\} 5$/m);
  t.match(prom, /^envoy_dynamicmodulescustom_fixture_requests\{method="POST"\} 2$/m);
  t.match(prom, /^# TYPE envoy_dynamicmodulescustom_fixture_requests counter$/m);
  t.match(prom, /^envoy_dynamicmodulescustom_fixture_sizes_count\{\} 7$/m, 'one histogram sample per stream');
  // Envoy keeps samples in bins of two significant digits and sums each as its bin's harmonic mean:
  // five 0s and two 10s (bin [10, 11)) sum to 2 * 2*10*11/21.
  t.match(
    prom,
    /^envoy_dynamicmodulescustom_fixture_sizes_sum\{\} 20\.95238095238095\d*$/m,
    'request body sizes summed, as Envoy approximates',
  );
  t.match(
    prom,
    /^envoy_dynamicmodulescustom_fixture_sizes_bucket\{le="0\.5"\} 5$/m,
    'the zero samples in the first bucket',
  );
  t.match(
    prom,
    /^envoy_dynamicmodulescustom_fixture_sizes_bucket\{le="10"\} 7$/m,
    'a bin counts in the buckets at or above its lower bound',
  );
  t.match(prom, /^envoy_dynamicmodulescustom_fixture_sizes_bucket\{le="\+Inf"\} 7$/m);
  const flushed = await adminGet(adminPort, '/stats');
  t.match(
    flushed,
    /^dynamicmodulescustom\.fixture_sizes: P0\((nan|0),0\) P25\((nan|0),0\) P50\((nan|0),0\) P75\((nan|10\.\d+),10\.\d+\)/m,
    'quantiles as (interval,cumulative)',
  );
});

t.test('histogram samples show only after a stats flush (stats_flush_interval)', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const port = await freePort();
  const adminPort = await freePort();
  const yaml = hostConfig({
    port,
    adminPort,
    filters: [fx('metrics', {})],
    clusters: { upstream: up.port },
    bootstrapExtra: { stats_flush_interval: '3s' },
  });
  const host = await startHost(yaml);
  t.teardown(() => host.stop());
  const idle = await adminGet(adminPort, '/stats');
  t.match(
    idle,
    /^dynamicmodulescustom\.fixture_sizes: No recorded values$/m,
    'a histogram without labels exists from its definition',
  );
  t.match(idle, /^dynamicmodulescustom\.fixture_active: 0$/m, 'so does a gauge without labels');
  t.notMatch(idle, /fixture_requests/, 'a counter with labels appears with its first label set');
  await request(port, { method: 'POST', path: '/p', body: 'x'.repeat(150) });
  const before = await adminGet(adminPort, '/stats/prometheus');
  t.match(before, /^envoy_dynamicmodulescustom_fixture_requests\{method="POST"\} 1$/m, 'counters show at once');
  t.match(before, /^envoy_dynamicmodulescustom_fixture_sizes_count\{\} 0$/m, 'the sample waits for the flush');
  t.match(await adminGet(adminPort, '/stats'), /^dynamicmodulescustom\.fixture_sizes: No recorded values$/m);
  const after = await waitFor(async () => {
    const s = await adminGet(adminPort, '/stats');
    return /fixture_sizes: P0/.test(s) ? s : false;
  });
  // 150 falls in the bin [150, 160): one sample sits in its middle, in the interval and cumulatively.
  t.match(
    after,
    /^dynamicmodulescustom\.fixture_sizes: P0\(155,155\) P25\(155,155\) P50\(155,155\) P75\(155,155\) P90\(155,155\) P95\(155,155\) P99\(155,155\) P99\.5\(155,155\) P99\.9\(155,155\) P100\(155,155\)$/m,
  );
  t.match(await adminGet(adminPort, '/stats/prometheus'), /^envoy_dynamicmodulescustom_fixture_sizes_count\{\} 1$/m);
});

t.test('metrics honour metrics_namespace', async (t) => {
  const { port, adminPort } = await withHost(t, { filters: [fx('metrics', {}, { metricsNamespace: 'myfilter' })] });
  await request(port, { path: '/' });
  const stats = await waitFor(async () => {
    const s = await adminGet(adminPort, '/stats');
    return /myfilter\.fixture_requests\.method\.GET: 1/.test(s) ? s : false;
  });
  t.notMatch(stats, /dynamicmodulescustom\.fixture_requests/);
});

t.test('per-route config: route-level vs none', async (t) => {
  const { port, up } = await withHost(t, {
    filters: [fx('per_route', {})],
    routes: [
      {
        prefix: '/struct',
        cluster: 'upstream',
        perFilter: { per_route: { perRouteName: 'pr1', config: { level: 'route', n: 7 } } },
      },
      {
        prefix: '/string',
        cluster: 'upstream',
        perFilter: { per_route: { perRouteName: 'pr2', config: 'plain text' } },
      },
      { prefix: '/', cluster: 'upstream' },
    ],
  });
  await request(port, { path: '/struct/a' });
  await request(port, { path: '/string' });
  await request(port, { path: '/other' });
  t.same(
    JSON.parse(up.requests[0].headers['x-route-config']),
    { level: 'route', n: 7 },
    'Struct per-route config as JSON',
  );
  t.equal(up.requests[0].headers['x-route-config'], '{"level":"route","n":7}');
  t.equal(up.requests[1].headers['x-route-config'], 'plain text', 'StringValue passed raw');
  t.equal(up.requests[2].headers['x-route-config'], 'none', 'no per-route config on this route');
});

t.test('attributes reach the upstream with the right values', async (t) => {
  const { port, up } = await withHost(t, { filters: [fx('attributes', {})], hostOpts: { concurrency: 2 } });
  const r = await request(port, {
    method: 'PUT',
    path: '/attr/x?q=1',
    body: 'b',
    headers: { 'x-request-id': 'rid-1' },
  });
  t.equal(r.status, 200);
  const h = up.requests[0].headers;
  t.equal(h['x-attr-path'], '/attr/x?q=1');
  t.equal(h['x-attr-method'], 'PUT');
  t.equal(h['x-attr-host'], `127.0.0.1:${port}`);
  t.equal(h['x-attr-protocol'], 'HTTP/1.1');
  t.equal(h['x-attr-id'], 'rid-1');
  t.match(h['x-attr-source'], /^127\.0\.0\.1:\d+$/);
  t.equal(Number(h['x-attr-source'].split(':')[1]), r.localPort, 'source port is the client socket');
  t.equal(h['x-metadata-k'], 'v', 'dynamic metadata set and read back');
  t.equal(r.headers['x-attr-response-code'], '200', 'response code attribute in the response hook');

  const idx = new Set();
  for (let i = 0; i < 20; i++) {
    const x = await request(port, { path: `/w${i}`, agent: false });
    idx.add(JSON.parse(x.body).headers['x-worker-index']);
  }
  t.ok(
    [...idx].every((w) => w === '0' || w === '1'),
    `worker index is 0 or 1 (${[...idx]})`,
  );
});

t.test('module logs go to stderr at the configured level', async (t) => {
  const { port, host } = await withHost(t, { filters: [fx('log', {})], hostOpts: { logLevel: 'info' } });
  await request(port, { path: '/log' });
  await waitFor(() => /fixture log critical/.test(host.stderr()));
  const log = host.stderr();
  t.match(log, /\[info\]\[dynamic_modules\] fixture log info/);
  t.match(log, /\[warning\]\[dynamic_modules\] fixture log warn/);
  t.match(log, /\[error\]\[dynamic_modules\] fixture log error/);
  t.match(log, /\[critical\]\[dynamic_modules\] fixture log critical/);
  t.notMatch(log, /fixture log debug/, 'debug filtered at info');
  t.notMatch(log, /fixture log trace/, 'trace filtered at info');
});

t.test('module logs at --log-level debug include debug but not trace', async (t) => {
  const { port, host } = await withHost(t, { filters: [fx('log', {})], hostOpts: { logLevel: 'debug' } });
  await request(port, { path: '/log' });
  await waitFor(() => /fixture log critical/.test(host.stderr()));
  t.match(host.stderr(), /\[debug\]\[dynamic_modules\] fixture log debug/);
  t.notMatch(host.stderr(), /fixture log trace/);
});

t.test('on_http_filter_local_reply sees every local reply with its details', async (t) => {
  const { port, host } = await withHost(t, {
    filters: [fx('passthrough', {})],
    routes: [
      { prefix: '/direct', direct: { status: 209, body: 'd' } },
      { prefix: '/', cluster: 'upstream', timeout: '0.3s' },
    ],
  });
  t.equal((await request(port, { path: '/direct' })).status, 209);
  await waitFor(() => /fixture local_reply code=209 details=direct_response/.test(host.stderr()));
  t.pass('direct_response goes through sendLocalReply');
  t.equal((await request(port, { path: '/stall' })).status, 504);
  await waitFor(() => /fixture local_reply code=504 details=response_timeout/.test(host.stderr()));
  t.pass('router timeout local reply seen');
  t.equal((await request(port, { path: '/reset-before-headers' })).status, 503);
  await waitFor(() =>
    /fixture local_reply code=503 details=upstream_reset_before_response_started/.test(host.stderr()),
  );
  t.pass('upstream reset local reply seen');
});
