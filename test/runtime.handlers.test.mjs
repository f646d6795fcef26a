// TypeScript/JS handlers running inside libnodevoy.so, driven through the ABI host over real HTTP.
import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request, resetAfter, waitFor, startUpstream, sleep } from './lib/harness.mjs';
import { withHost } from './lib/setup.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const bundle = path.join(here, 'js', 'filters.cjs');
const js = (filterName, config = {}) => ({ module: 'nodevoy', filterName, config: { module: bundle, config } });

t.test('a sync handler rewrites request and response headers with no thread hop', async (t) => {
  const { up, port } = await withHost(t, { filters: [js('rewrite', { tag: 'alpha' })] });
  const r = await request(port, { path: '/a/b?q=1', headers: { 'x-remove-me': '1' } });
  t.equal(r.status, 200);
  const seen = up.requests.at(-1);
  t.equal(seen.headers['x-js'], 'sync:GET:/a/b?q=1');
  t.equal(seen.headers['x-config'], 'alpha', 'ctx.config is the filter_config.config object');
  t.notOk('x-remove-me' in seen.headers, 'delete removed the header');
  t.equal(r.headers['x-js-resp'], '200');
});

t.test('await of resolved promises settles inside the hook', async (t) => {
  const { up, port } = await withHost(t, { filters: [js('awaitResolved')] });
  const r = await request(port, { path: '/x' });
  t.equal(r.status, 200);
  t.equal(up.requests.at(-1).headers['x-awaited'], 'yes');
});

t.test('a handler awaiting setTimeout parks the stream and resumes it', async (t) => {
  const { up, port } = await withHost(t, { filters: [js('timer', { ms: 40 })] });
  const t0 = Date.now();
  const r = await request(port, { method: 'POST', path: '/t', body: 'payload behind parked headers' });
  t.equal(r.status, 200);
  t.ok(Date.now() - t0 >= 35, 'the request waited for the timer');
  const seen = up.requests.at(-1);
  t.equal(seen.headers['x-slept'], 'true');
  t.equal(seen.body, 'payload behind parked headers', 'the body waited behind the parked headers, intact');
});

t.test('a handler awaiting fetch to a local server', async (t) => {
  const side = await startUpstream();
  t.teardown(() => side.close());
  const { up, port } = await withHost(t, { filters: [js('fetcher', { url: `http://127.0.0.1:${side.port}` })] });
  for (let i = 0; i < 3; i++) {
    const r = await request(port, { path: `/f${i}` });
    t.equal(r.status, 200);
    t.equal(up.requests.at(-1).headers['x-fetched'], '/side?from=fetch');
  }
  t.equal(side.requests.length, 3);
});

t.test('a handler using node:http as a client', async (t) => {
  const side = await startUpstream();
  t.teardown(() => side.close());
  const { up, port } = await withHost(t, { filters: [js('httpClient', { url: `http://127.0.0.1:${side.port}` })] });
  const r = await request(port, { path: '/h' });
  t.equal(r.status, 200);
  t.equal(up.requests.at(-1).headers['x-http'], '/side?from=http');
});

t.test('local replies, sync and after an await', async (t) => {
  const { up, port } = await withHost(t, { filters: [js('deny')] });
  const denied = await request(port, { path: '/secret' });
  t.equal(denied.status, 401);
  t.equal(denied.body, 'missing token');
  t.equal(denied.headers['www-authenticate'], 'Bearer');
  const ok = await request(port, { path: '/secret', headers: { authorization: 'Bearer ok' } });
  t.equal(ok.status, 200);
  t.equal(up.requests.length, 1, 'only the authorised request reached the upstream');

  const later = await withHost(t, { filters: [js('denyLater')] });
  const r = await request(later.port, { path: '/x' });
  t.equal(r.status, 429);
  t.equal(r.body, 'slow down');
  t.equal(later.up.requests.length, 0);
});

for (const [name, how] of [
  ['boom', 'threw'],
  ['reject', 'rejected'],
]) {
  t.test(`a handler that ${how} ends the request with a 500 and the worker keeps serving`, async (t) => {
    const { up, port, host } = await withHost(t, { filters: [js(name)], hostOpts: { concurrency: 1 } });
    const bad = await request(port, { path: '/boom' });
    t.equal(bad.status, 500);
    t.match(bad.body, /nodevoy/);
    await waitFor(() => host.stderr().includes(`onRequestHeaders handler ${how}`));
    t.match(host.stderr(), /kaboom from an? (sync|async) handler\n\s+at /, 'the log line carries the JS stack');
    const good = await request(port, { path: '/fine' });
    t.equal(good.status, 200, 'the same worker serves the next request');
    t.equal(up.requests.length, 1);
  });
}

t.test('a response-side handler after an await: rewrite or reply', async (t) => {
  const { port } = await withHost(t, {
    filters: [js('responseSide')],
    upstreamHandler: (req, res) => {
      res.statusCode = req.url === '/fail' ? 503 : 200;
      res.end('upstream');
    },
  });
  const ok = await request(port, { path: '/ok' });
  t.equal(ok.status, 200);
  t.equal(ok.headers['x-checked'], 'later');
  t.equal(ok.body, 'upstream');
  const failed = await request(port, { path: '/fail' });
  t.equal(failed.status, 502);
  t.equal(failed.body, 'upstream said no');
});

t.test('header setters refuse CR/LF with a typed error; nothing reaches the wire', async (t) => {
  const { up, port } = await withHost(t, { filters: [js('badHeader')] });
  const r = await request(port, { path: '/x' });
  t.equal(r.status, 200);
  const seen = up.requests.at(-1);
  t.equal(seen.headers['x-error'], 'InvalidHeaderError:ERR_NODEVOY_INVALID_HEADER');
  t.notOk('x-evil' in seen.headers);
  t.notOk('x-injected' in seen.headers);
});

t.test(
  'a client reset while the handler awaits aborts its signal; late calls throw; the worker serves on',
  async (t) => {
    const { up, port, host } = await withHost(t, {
      filters: [js('parked', { ms: 400 })],
      hostOpts: { concurrency: 1 },
    });
    await resetAfter(port, 'GET /parked HTTP/1.1\r\nhost: x\r\n\r\n', 100);
    await waitFor(() => host.stderr().includes('parked stream aborted; late call threw ERR_NODEVOY_STREAM_CLOSED'));
    const r = await request(port, { path: '/after' });
    t.equal(r.status, 200, 'the next request is served after its own wait');
    t.equal(up.requests.length, 1, 'the reset request never reached the upstream');
    await sleep(500); // the abandoned timer fires with no live stream to touch
    const again = await request(port, { path: '/again' });
    t.equal(again.status, 200);
  },
);

t.test('2 workers, 200 concurrent async requests, every response correct', async (t) => {
  const { up, port } = await withHost(t, { filters: [js('timer', { ms: 5 })], hostOpts: { concurrency: 2 } });
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => request(port, { path: `/c/${i}`, headers: { 'x-n': String(i) } })),
  );
  t.equal(results.filter((r) => r.status === 200).length, 200);
  for (const [i, r] of results.entries()) {
    const echoed = JSON.parse(r.body);
    if (echoed.path !== `/c/${i}` || echoed.headers['x-n'] !== String(i) || echoed.headers['x-slept'] !== 'true') {
      t.fail(`response ${i} does not match its request: ${r.body}`);
      return;
    }
  }
  t.equal(up.requests.length, 200);
});

t.test('an ESM bundle loads and runs', async (t) => {
  const { up, port } = await withHost(t, {
    filters: [{ module: 'nodevoy', filterName: 'esm', config: { module: path.join(here, 'js', 'esm-filter.mjs') } }],
  });
  const r = await request(port, { path: '/esm' });
  t.equal(r.status, 200);
  t.equal(up.requests.at(-1).headers['x-esm'], 'string');
});

t.test('process.exit() in a handler does not end the host', async (t) => {
  const { port, host } = await withHost(t, { filters: [js('exits')], hostOpts: { concurrency: 1 } });
  const r = await request(port, { path: '/exit' });
  t.equal(r.status, 500);
  await waitFor(() => host.stderr().includes('process.exit(3) called by filter code'));
  const again = await request(port, { path: '/exit-again' });
  t.equal(again.status, 500, 'the stopped environment answers with the failure reply, the host lives');
});
