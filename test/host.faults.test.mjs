// ABI host: faults on either side (client resets, upstream resets and stalls, slow hooks, shutdown
// with streams in flight). After each one the host must keep serving and must not crash.
import net from 'node:net';
import t from 'tap';
import {
  adminGet,
  freePort,
  hostConfig,
  request,
  resetAfter,
  sleep,
  startHost,
  startUpstream,
  waitFor,
} from './lib/harness.mjs';
import { fx, withHost } from './lib/setup.mjs';

async function assertServing(t, host, port, what = 'the host keeps serving') {
  const r = await request(port, { path: '/alive', agent: false });
  t.equal(r.status, 200, what);
  t.equal(host.proc.exitCode, null, 'host process still running');
  t.notMatch(host.stderr(), /FATAL|AddressSanitizer/, 'no fatal error logged');
}

t.test('client resets mid-request (partial body)', async (t) => {
  const { port, host, adminPort, up } = await withHost(t, {
    filters: [fx('metrics', {}), fx('uppercase_body', { request: true, response: false })],
  });
  await resetAfter(port, 'POST /partial HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc', 100);
  await resetAfter(port, 'POST /partial2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n', 100);
  await resetAfter(port, 'GET /headers-only HTTP/1.1\r\nHost: x\r\nX-Partial: ', 50);
  // stream_complete ran for the reset streams: the fixture's active gauge is back to 0
  await waitFor(async () => /dynamicmodulescustom\.fixture_active: 0$/m.test(await adminGet(adminPort, '/stats')));
  t.pass('fixture_active gauge back to 0 (stream_complete ran for the reset streams)');
  t.notOk(
    up.requests.some((q) => q.complete),
    'no partial request completed upstream',
  );
  await assertServing(t, host, port);
});

t.test('client resets mid-response (5 MB body)', async (t) => {
  const { port, host } = await withHost(t, { filters: [fx('passthrough', {})] });
  const got = await new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let n = 0;
    s.on('error', () => {});
    s.on('connect', () => s.write('GET /big?n=5000000 HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.on('data', (d) => {
      n += d.length;
      if (n > 200000) {
        s.resetAndDestroy();
        resolve(n);
      }
    });
    s.on('close', () => resolve(n));
    setTimeout(() => reject(new Error('no data')), 20000).unref();
  });
  t.ok(got > 200000 && got < 5000000, `read ${got} bytes, then reset`);
  await assertServing(t, host, port);
  const full = await request(port, { path: '/big?n=1000000' });
  t.equal(full.body.length, 1000000, 'a full big response still works');
});

t.test('client resets while the stream is parked (async_resume 200 ms)', async (t) => {
  // StopAllIterationAndBuffer: a partial body stays parked too (with StopIteration the first body
  // chunk would release the headers, as on Envoy).
  const { port, host, up } = await withHost(t, {
    filters: [fx('async_resume', { delay_ms: 200, status: 'StopAllIterationAndBuffer' })],
  });
  await resetAfter(port, 'GET /parked HTTP/1.1\r\nHost: x\r\n\r\n', 50);
  await resetAfter(port, 'POST /parked2 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345', 50);
  await sleep(400); // the scheduler commits fire after their streams are gone: must be no-ops
  t.equal(up.requests.length, 0, 'the parked streams never continued');
  await assertServing(t, host, port);
});

t.test('upstream resets before headers -> 503', async (t) => {
  const { port, host } = await withHost(t, { filters: [fx('passthrough', {})] });
  const r = await request(port, { path: '/reset-before-headers' });
  t.equal(r.status, 503);
  t.match(r.body, /upstream connect error or disconnect\/reset before headers/);
  await assertServing(t, host, port);
});

t.test('upstream refuses connections -> 503', async (t) => {
  const dead = await freePort();
  const up = await startUpstream();
  t.teardown(() => up.close());
  const port = await freePort();
  const host = await startHost(
    hostConfig({ port, filters: [fx('passthrough', {})], clusters: { dead, upstream: up.port } }),
  );
  t.teardown(() => host.stop());
  const r = await request(port, { path: '/x' });
  t.equal(r.status, 503);
  t.match(r.body, /upstream connect error/);
  t.equal(await host.stop(), 0);
});

t.test('upstream stalls -> route timeout 504', async (t) => {
  const { port, host } = await withHost(t, {
    filters: [fx('passthrough', {})],
    routes: [{ prefix: '/', cluster: 'upstream', timeout: '0.5s' }],
  });
  const start = Date.now();
  const r = await request(port, { path: '/stall' });
  const elapsed = Date.now() - start;
  t.equal(r.status, 504);
  t.equal(r.body, 'upstream request timeout');
  t.ok(elapsed >= 450 && elapsed < 10000, `timed out after ${elapsed} ms`);
  await assertServing(t, host, port);
});

t.test('the route timeout starts when the request has ended, as on Envoy', async (t) => {
  const { port } = await withHost(t, {
    routes: [{ prefix: '/', cluster: 'upstream', timeout: '0.5s' }],
  });
  // 30 chunks 20 ms apart: the upload alone takes longer than the timeout
  const start = Date.now();
  const r = await request(port, { method: 'POST', path: '/slow-upload', body: Array(30).fill('x') });
  t.ok(Date.now() - start > 500, 'the upload took longer than the route timeout');
  t.equal(r.status, 200);
  t.equal(JSON.parse(r.body).body, 'x'.repeat(30));
});

t.test('upstream resets mid-body -> the client sees the connection die', async (t) => {
  const { port, host } = await withHost(t, { filters: [fx('passthrough', {})] });
  const err = await request(port, { path: '/reset-mid-body', agent: false }).then(
    (r) => new Error(`unexpected complete response ${r.status} ${r.body}`),
    (e) => e,
  );
  t.not(err.message.startsWith('unexpected'), true, `client saw: ${err.message}`);
  t.match(err.code || err.message, /ECONNRESET|aborted|socket hang up|incomplete/);
  await assertServing(t, host, port);
});

t.test('a slow hook (300 ms) still answers', async (t) => {
  const { port, host } = await withHost(t, { filters: [fx('slow', { ms: 300, phase: 'request_headers' })] });
  const start = Date.now();
  const r = await request(port, { path: '/slow' });
  t.equal(r.status, 200);
  t.ok(Date.now() - start >= 290);
  await assertServing(t, host, port);
});

t.test('SIGTERM with requests in flight: clean shutdown, exit 0', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const port = await freePort();
  const host = await startHost(
    hostConfig({
      port,
      filters: [fx('metrics', {}), fx('async_resume', { delay_ms: 1 })],
      clusters: { upstream: up.port },
    }),
  );
  t.teardown(() => host.stop());
  const inflight = [
    ...Array.from({ length: 5 }, (_, i) => request(port, { path: `/stall?i=${i}`, agent: false })),
    request(port, { method: 'POST', path: '/stall', body: 'x', agent: false }),
  ];
  const settled = Promise.allSettled(inflight);
  await waitFor(() => up.requests.length === 6);
  // one more parked in a filter (long delay) at shutdown time
  const parked = await startHost(
    hostConfig({
      port: await freePort(),
      filters: [fx('async_resume', { delay_ms: 5000 })],
      clusters: { upstream: up.port },
    }),
  );
  t.teardown(() => parked.stop());
  const parkedReq = request(parked.port, { path: '/never', agent: false }).catch((e) => e);
  await sleep(100);

  t.equal(await host.stop(), 0, 'exit code 0 with 6 upstream requests in flight');
  t.match(host.stderr(), /exited cleanly/);
  const results = await settled;
  t.ok(
    results.every((x) => x.status === 'rejected'),
    'in-flight clients saw their connections close',
  );

  const start = Date.now();
  t.equal(await parked.stop(), 0, 'exit code 0 with a stream parked in a filter');
  t.ok(Date.now() - start < 4000, 'did not wait for the parked stream');
  t.ok((await parkedReq) instanceof Error);
});

t.test('admin /quitquitquit shuts down cleanly', async (t) => {
  const { adminPort, host } = await withHost(t, {});
  t.equal(await adminGet(adminPort, '/ready'), 'LIVE\n');
  await adminGet(adminPort, '/quitquitquit');
  const { code } = await host.exited;
  t.equal(code, 0);
});
