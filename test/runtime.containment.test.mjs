// Failure containment (issue 6): failure policy, time budgets, process.exit, boundary validation,
// stream death; each through the ABI host over real HTTP.
import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request, adminGet, runHostExpectFailure, hostConfig, freePort, resetAfter, sleep } from './lib/harness.mjs';
import { withHost } from './lib/setup.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const bundle = path.join(here, 'js', 'containment.cjs');
const js = (filterName, policy = {}, config = {}) => ({
  module: 'nodevoy',
  filterName,
  config: { module: bundle, config, ...policy },
});

t.test(
  'failure policy: fail_closed answers with the configured status, fail_open continues; counted by kind',
  async (t) => {
    const closed = await withHost(t, { filters: [js('failing')] });
    const r1 = await request(closed.port, { path: '/t', headers: { 'x-mode': 'throw' } });
    t.equal(r1.status, 500, 'default: 500');
    const r2 = await request(closed.port, { path: '/r', headers: { 'x-mode': 'reject' } });
    t.equal(r2.status, 500, 'a rejected promise too');
    const stats = await adminGet(closed.adminPort, '/stats');
    t.match(stats, /^dynamicmodulescustom\.failing\.nodevoy\.errors\.kind\.handler: 2$/m, 'failures counted by kind');

    const custom = await withHost(t, { filters: [js('failing', { failure_status: 503 })] });
    t.equal((await request(custom.port, { path: '/t', headers: { 'x-mode': 'throw' } })).status, 503, 'failure_status');

    const open = await withHost(t, { filters: [js('failing', { failure_mode: 'fail_open' })] });
    const r3 = await request(open.port, { path: '/open', headers: { 'x-mode': 'throw' } });
    t.equal(r3.status, 200, 'fail_open: the request went on');
    t.equal(open.up.requests.at(-1).path, '/open');
    t.match(open.host.stderr(), /onRequestHeaders handler (threw|rejected): Error: boom/, 'logged with its stack');
  },
);

t.test('sync budget: a runaway handler is terminated, answered 504, and the environment keeps serving', async (t) => {
  const { port, adminPort } = await withHost(t, {
    filters: [js('failing', { sync_budget_ms: 50, async_budget_ms: 1000 })],
    hostOpts: { concurrency: 1 },
  });
  const t0 = Date.now();
  const r = await request(port, { path: '/spin', headers: { 'x-mode': 'spin' } });
  t.equal(r.status, 504);
  t.ok(Date.now() - t0 < 5000, 'stopped promptly');
  const r2 = await request(port, { path: '/spin2', headers: { 'x-mode': 'spin-after-await' } });
  t.ok([504].includes(r2.status), 'a loop after an await is stopped too');
  for (let i = 0; i < 3; i++)
    t.equal((await request(port, { path: `/ok${i}` })).status, 200, 'the same worker serves on');
  const timer = await request(port, { path: '/ts', headers: { 'x-mode': 'timer-spin' } });
  t.equal(timer.status, 200);
  await sleep(200);
  t.equal((await request(port, { path: '/after-timer' })).status, 200, 'a runaway timer callback is stopped too');
  const stats = await adminGet(adminPort, '/stats');
  t.match(stats, /^dynamicmodulescustom\.failing\.nodevoy\.errors\.kind\.timeout: [12]$/m);

  const open = await withHost(t, {
    filters: [js('failing', { sync_budget_ms: 50, failure_mode: 'fail_open' })],
    hostOpts: { concurrency: 1 },
  });
  t.equal(
    (await request(open.port, { path: '/spin', headers: { 'x-mode': 'spin' } })).status,
    200,
    'fail_open continues after termination',
  );
});

t.test('async budget: a promise that never settles is abandoned with 504 and its signal aborted', async (t) => {
  const { port } = await withHost(t, {
    filters: [js('failing', { async_budget_ms: 150 })],
    hostOpts: { concurrency: 1 },
  });
  const t0 = Date.now();
  const r = await request(port, { path: '/hang', headers: { 'x-mode': 'hang' } });
  t.equal(r.status, 504);
  t.ok(Date.now() - t0 >= 140, 'after the budget');
  const rep = await request(port, { path: '/report', headers: { 'x-mode': 'report' } });
  t.match(rep.status, 200);
});

t.test('stream death: a client reset while a handler awaits aborts its signal', async (t) => {
  const { port, up } = await withHost(t, {
    filters: [js('failing', { async_budget_ms: 60000 })],
    hostOpts: { concurrency: 1 },
  });
  await resetAfter(port, 'GET /h HTTP/1.1\r\nhost: x\r\nx-mode: hang\r\n\r\n', 100);
  await sleep(100);
  const rep = await request(port, { path: '/report', headers: { 'x-mode': 'report' } });
  t.equal(rep.status, 200);
  t.match(
    up.requests.at(-1).headers['x-aborted'],
    /^1:StreamClosedError/,
    'the abandoned handler saw its signal abort',
  );
});

t.test(
  'stream death: reset during body streaming, while awaiting ctx.fetch, upstream reset, reply from another filter',
  async (t) => {
    const { startUpstream } = await import('./lib/harness.mjs');
    const slow = await startUpstream();
    t.teardown(() => slow.close());
    const { fx } = await import('./lib/setup.mjs');
    const { port, up } = await withHost(t, {
      filters: [
        js('mortal', { async_budget_ms: 60000 }),
        fx('local_reply', { status: 418, body: 'teapot', phase: 'request_body' }),
      ],
      clusters: { slow: slow.port },
      routes: [
        { path: '/deny', cluster: 'upstream' },
        { prefix: '/', cluster: 'upstream' },
      ],
      hostOpts: { concurrency: 1 },
    });
    const report = async () => {
      await request(port, { path: '/report', headers: { 'x-mode': 'report' } });
      return up.requests.at(-1).headers['x-deaths'];
    };
    // Client reset in the middle of a chunked body that the chunk handler is streaming.
    await resetAfter(
      port,
      'POST /s HTTP/1.1\r\nhost: x\r\nx-mode: body\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n',
      150,
    );
    // Client reset while the handler awaits a callout that never answers.
    await resetAfter(port, 'GET /f HTTP/1.1\r\nhost: x\r\nx-mode: fetch\r\n\r\n', 200);
    const { waitFor } = await import('./lib/harness.mjs');
    const deaths = await waitFor(
      async () => {
        const d = await report();
        return /fetch:aborted/.test(d) && /fetch:StreamClosedError/.test(d) && d;
      },
      { timeoutMs: 10000 },
    ).catch(() => report());
    t.match(deaths, /fetch:aborted/, 'the fetch waiter saw its signal abort');
    t.match(deaths, /fetch:StreamClosedError/, 'the pending ctx.fetch rejected with StreamClosedError');
    // The upstream resets mid-response: the stream ends, the worker serves on.
    const mid = await request(port, { path: '/reset-mid-body' }).then(
      (r) => r,
      (e) => ({ error: e }),
    );
    t.ok(mid.error || mid.complete === false, 'the client sees the reset');
    // Another filter answers while ours is done with the request headers.
    const teapot = await request(port, { method: 'POST', path: '/tea', body: 'x', headers: { 'x-mode': 'plain' } });
    t.equal(teapot.status, 418, "the other filter's local reply went out");
    t.equal(
      teapot.headers['x-mortal'],
      'seen',
      "a later filter's local reply passes through our response handler, as in Envoy",
    );
    const after = await request(port, { path: '/ok', headers: { 'x-mode': 'plain' } });
    t.equal(after.status, 200, 'the worker serves on');
  },
);

t.test('process.exit(): the environment is replaced; only the streams it held fail', async (t) => {
  const { port, host } = await withHost(t, { filters: [js('failing')], hostOpts: { concurrency: 1 } });
  t.equal((await request(port, { path: '/before' })).status, 200);
  const r = await request(port, { path: '/exit', headers: { 'x-mode': 'exit' } });
  t.equal(r.status, 500, 'the stream that called exit fails');
  for (let i = 0; i < 3; i++)
    t.equal((await request(port, { path: `/after${i}` })).status, 200, 'later streams get a fresh environment');
  t.match(host.stderr(), /process\.exit\(3\)/);
});

t.test('heap limit: an environment that exhausts its heap is replaced; the worker keeps serving', async (t) => {
  const { port, host } = await withHost(t, {
    filters: [js('hog', { sync_budget_ms: 30000 })],
    hostOpts: { concurrency: 1, env: { NODEVOY_MAX_HEAP_MB: '96' } },
  });
  t.equal((await request(port, { path: '/before' })).status, 200);
  const r = await request(port, { path: '/hog', headers: { 'x-mode': 'hog' } });
  t.equal(r.status, 500, 'the stream whose handler ran out of heap fails per policy');
  for (let i = 0; i < 3; i++)
    t.equal((await request(port, { path: `/after${i}` })).status, 200, 'a fresh environment serves on');
  t.match(host.stderr(), /reached its heap limit/);
});

t.test('WebAssembly compiling when the environment goes: the proxy still exits cleanly', async (t) => {
  // Asynchronous wasm compiles (undici's llhttp on every worker, or a filter's own) finished on V8's
  // threads after the environment's task runner was torn down and crashed the process at shutdown
  // (SIGSEGV in uv_async_send). Each round starts a 6 MB compile and shuts down right away.
  for (let round = 1; round <= 4; round++) {
    const { port, host } = await withHost(t, {
      filters: [js('wasmCompile', { sync_budget_ms: 5000 })],
      hostOpts: { concurrency: 1 },
    });
    const r = await request(port, { path: '/wasm' });
    t.equal(r.status, 200, `round ${round}: the request went through`);
    await host.stopClean(); // throws with the signal (and the host's backtrace) unless the exit was clean
    t.pass(`round ${round}: clean exit`);
  }
});

t.test('bad input at the boundary: typed errors at the call site, nothing corrupt on the wire', async (t) => {
  const { port, up } = await withHost(t, { filters: [js('boundary')] });
  const r = await request(port, { path: '/b' });
  t.equal(r.status, 200);
  const seen = up.requests.at(-1).headers;
  t.equal(
    seen['x-results'],
    [
      'crlf=InvalidHeaderError',
      'nul=InvalidHeaderError',
      'badname=InvalidHeaderError',
      'nonstring=InvalidHeaderError',
      'status=InvalidResponseError',
      'status-float=InvalidResponseError',
      'reply-header=InvalidHeaderError',
      'metadata=TypeError',
      'attribute=TypeError',
      'fetch-cluster=ok',
      'pseudo-path=InvalidHeaderError',
      'pseudo-method=InvalidHeaderError',
    ].join(' '),
  );
  t.notOk('x-injected' in seen, 'no header injected');
  t.notOk('x-a' in seen, 'no partial write');
  t.equal(r.headers['x-late'], 'set');

  const d = await withHost(t, { filters: [js('detached')] });
  const dr = await request(d.port, { method: 'POST', path: '/d', body: ['first-chunk', 'second-chunk'] });
  t.equal(dr.status, 500, 'returning a detached view fails the stream (typed error), never reads freed memory');
});

t.test('calls on a completed stream throw StreamClosedError', async (t) => {
  const { port, up } = await withHost(t, { filters: [js('afterClose')], hostOpts: { concurrency: 1 } });
  await request(port, { path: '/first' });
  await request(port, { path: '/second', headers: { 'x-check': '1' } });
  t.equal(
    up.requests.at(-1).headers['x-after-close'],
    'StreamClosedError(headers.get),StreamClosedError(ctx.respond),StreamClosedError(ctx.metadata.get),StreamClosedError(body.replace)',
    'each error names the call that was made',
  );
});

t.test('config errors name the cause: failure_mode and budgets', async (t) => {
  const port = await freePort();
  const bad = await runHostExpectFailure(
    hostConfig({ port, filters: [js('failing', { failure_mode: 'sometimes' })], clusters: { upstream: 1 } }),
  );
  t.match(bad.stderr, /failure_mode must be "fail_closed" or "fail_open"/);
  const bad2 = await runHostExpectFailure(
    hostConfig({ port, filters: [js('failing', { sync_budget_ms: 0 })], clusters: { upstream: 1 } }),
  );
  t.match(bad2.stderr, /sync_budget_ms must be an integer from 1/);
});

t.test(
  'an injected C++ exception in each hook kind ends its request: a failure reply, or a reset once the response began; none hangs',
  async (t) => {
    const before = { status: 500, body: /the filter failed/ };
    const cases = [
      ['request_headers', { path: '/h' }, before],
      ['request_body', { method: 'POST', path: '/b', body: 'payload' }, before],
      ['request_trailers', { method: 'POST', path: '/t', body: ['x'], trailers: { 'x-t': '1' } }, before],
      ['response_headers', { path: '/rh' }, before],
      ['response_body', { path: '/rb' }, 'reset'],
      ['response_trailers', { path: '/chunked-trailers' }, 'reset'],
      ['scheduled', { path: '/s', headers: { 'x-park': '1' } }, before],
      ['http_callout_done', { path: '/c', headers: { 'x-fetch': '1' } }, before],
    ];
    for (const [hook, req, want] of cases) {
      const { port, adminPort } = await withHost(t, {
        filters: [js('allHooks')],
        hostOpts: { concurrency: 1, env: { NODEVOY_TEST_THROW_IN: hook } },
      });
      const outcome = await request(port, { ...req, agent: false, timeoutMs: 10000 }).then(
        (r) => ({ status: r.status, body: r.body }),
        (e) => (/timed out/.test(e.message) ? { hung: true } : { reset: e.code ?? e.message }),
      );
      t.notOk(outcome.hung, `${hook}: the request did not hang`);
      if (want === 'reset') t.ok(outcome.reset, `${hook}: the started response is reset (${JSON.stringify(outcome)})`);
      else {
        t.equal(outcome.status, want.status, `${hook}: the failure reply`);
        t.match(outcome.body, want.body);
      }
      t.match(
        await adminGet(adminPort, '/stats'),
        /nodevoy\.errors\.kind\.native: [1-9]|nodevoy\.errors.*native.*: [1-9]/,
        `${hook}: counted as a native error`,
      );
    }
  },
);
