// ABI host: filter-chain semantics (Envoy's FilterManager) driven by the native fixture filters.
import t from 'tap';
import { request, sleep, waitFor } from './lib/harness.mjs';
import { fx, withHost } from './lib/setup.mjs';

t.test('uppercase_body rewrites request bodies (multi-chunk, content-length, trailers)', async (t) => {
  const { port, up } = await withHost(t, { filters: [fx('uppercase_body', { request: true, response: false })] });

  const r = await request(port, { method: 'POST', path: '/u1', body: ['hello ', 'big ', 'world'] });
  t.equal(r.status, 200);
  t.equal(JSON.parse(r.body).body, 'HELLO BIG WORLD', 'chunked body buffered and rewritten');
  t.equal(up.requests[0].body, 'HELLO BIG WORLD');

  const c = await request(port, { method: 'POST', path: '/u2', body: 'content-length body' });
  t.equal(JSON.parse(c.body).body, 'CONTENT-LENGTH BODY');
  t.equal(up.requests[1].headers['content-length'], '19', 'content-length still right');

  const tr = await request(port, {
    method: 'POST',
    path: '/u3',
    body: ['with ', 'trailers'],
    trailers: { 'x-t': 'v' },
  });
  const echo = JSON.parse(tr.body);
  t.equal(echo.body, 'WITH TRAILERS', 'rewritten in the trailers hook');
  t.same(echo.trailers, { 'x-t': 'v' });
  t.equal(echo.path, '/u3', 'the response was not rewritten (response: false)');
});

t.test('uppercase_body rewrites response bodies (multi-chunk)', async (t) => {
  const { port } = await withHost(t, { filters: [fx('uppercase_body', { request: false, response: true })] });
  const r = await request(port, { path: '/big?n=300000' });
  t.equal(r.status, 200);
  t.equal(r.body.length, 300000);
  t.equal(r.body, 'A'.repeat(300000));

  const e = await request(port, { method: 'POST', path: '/echo', body: 'lower' });
  const echo = JSON.parse(e.body);
  t.equal(echo.BODY, 'LOWER', 'the JSON echo came back upper-cased');
  t.equal(echo.PATH, '/ECHO');

  const tr = await request(port, { path: '/chunked-trailers' });
  t.equal(tr.body, 'HELLO WORLD');
  t.equal(tr.trailers['x-up-trailer'], 't');
});

t.test('local_reply from each phase', async (t) => {
  t.test('request_headers', async (t) => {
    const { port, up, host } = await withHost(t, {
      filters: [fx('local_reply', { status: 403, body: 'denied', headers: { 'x-lr': '1' }, phase: 'request_headers' })],
    });
    const r = await request(port, { path: '/x' });
    t.equal(r.status, 403);
    t.equal(r.body, 'denied');
    t.equal(r.headers['x-lr'], '1');
    t.equal(r.headers['content-length'], '6');
    t.equal(up.requests.length, 0, 'the upstream was never contacted');
    await waitFor(() => /fixture local_reply code=403 details=fixture_local_reply/.test(host.stderr()));
    t.pass('the module saw its own local reply through on_http_filter_local_reply');
    const again = await request(port, { path: '/y' });
    t.equal(again.status, 403, 'keep-alive connection still usable after a local reply');
  });

  t.test('request_body', async (t) => {
    const { port, up } = await withHost(t, {
      filters: [
        fx('local_reply', { status: 413, body: 'no bodies', headers: { 'x-phase': 'body' }, phase: 'request_body' }),
      ],
    });
    const r = await request(port, { method: 'POST', path: '/b', body: ['first', 'second'] });
    t.equal(r.status, 413);
    t.equal(r.body, 'no bodies');
    t.equal(r.headers['x-phase'], 'body');
    t.notOk(
      up.requests.some((q) => q.complete),
      'the upstream never got a complete request',
    );
    const g = await request(port, { path: '/no-body' });
    t.equal(g.status, 200, 'a request without a body never reaches the body hook');
  });

  t.test('response_headers', async (t) => {
    const { port, up } = await withHost(t, {
      filters: [
        fx('local_reply', { status: 502, body: 'replaced', headers: { 'x-phase': 'resp' }, phase: 'response_headers' }),
      ],
    });
    const r = await request(port, { path: '/r' });
    t.equal(r.status, 502);
    t.equal(r.body, 'replaced');
    t.equal(r.headers['x-phase'], 'resp');
    t.equal(r.headers['content-type'], 'text/plain', 'the upstream content-type is gone');
    t.equal(up.requests.length, 1, 'the upstream was asked');
  });
});

t.test('async_resume: parked streams resume from the scheduler', async (t) => {
  t.test('request direction', async (t) => {
    const { port, up } = await withHost(t, { filters: [fx('async_resume', { delay_ms: 150, direction: 'request' })] });
    const start = Date.now();
    const r = await request(port, { path: '/async' });
    const elapsed = Date.now() - start;
    t.equal(r.status, 200);
    t.equal(
      JSON.parse(r.body).headers['x-fixture-resumed'],
      '1',
      'header added in the scheduled hook reached the upstream',
    );
    t.ok(elapsed >= 140, `waited for the scheduler (${elapsed} ms)`);
    t.equal(up.requests.length, 1);
  });

  t.test('request direction, StopAllIterationAndBuffer with a body', async (t) => {
    const { port } = await withHost(t, {
      filters: [fx('async_resume', { delay_ms: 100, direction: 'request', status: 'StopAllIterationAndBuffer' })],
    });
    const r = await request(port, { method: 'POST', path: '/async-body', body: ['chunk-1 ', 'chunk-2 ', 'chunk-3'] });
    const echo = JSON.parse(r.body);
    t.equal(echo.body, 'chunk-1 chunk-2 chunk-3', 'body buffered while parked, then forwarded intact');
    t.equal(echo.headers['x-fixture-resumed'], '1');
  });

  t.test('response direction (StopIteration on a header-only response)', async (t) => {
    // With a body, StopIteration would let the first body chunk (Continue) release the headers
    // before the scheduled hook runs, as on Envoy; a header-only response stays parked.
    const { port } = await withHost(t, { filters: [fx('async_resume', { delay_ms: 100, direction: 'response' })] });
    const start = Date.now();
    const r = await request(port, { path: '/big?n=0' });
    t.equal(r.status, 200);
    t.equal(r.headers['x-fixture-resumed'], '1', 'header added in the scheduled hook reached the client');
    t.equal(r.body, '');
    t.ok(Date.now() - start >= 90, 'the response waited for the scheduler');
  });

  t.test('response direction, StopAllIterationAndBuffer with a big body', async (t) => {
    const { port } = await withHost(t, {
      filters: [fx('async_resume', { delay_ms: 100, direction: 'response', status: 'StopAllIterationAndBuffer' })],
    });
    const r = await request(port, { path: '/big?n=200000' });
    t.equal(r.headers['x-fixture-resumed'], '1');
    t.equal(r.body, 'a'.repeat(200000));
  });

  t.test('many parked streams at once', async (t) => {
    const { port } = await withHost(t, { filters: [fx('async_resume', { delay_ms: 50 })] });
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => request(port, { path: `/p${i}` })));
    t.ok(
      rs.every(
        (r, i) =>
          r.status === 200 &&
          JSON.parse(r.body).path === `/p${i}` &&
          JSON.parse(r.body).headers['x-fixture-resumed'] === '1',
      ),
    );
  });
});

t.test('statuses: Envoy filter-status semantics', async (t) => {
  t.test('request_headers StopAllIterationAndBuffer + resume: the filter then sees all the body', async (t) => {
    const { port } = await withHost(t, {
      filters: [fx('statuses', { request_headers: 'StopAllIterationAndBuffer', resume_after_ms: 60 })],
    });
    const r = await request(port, { method: 'POST', path: '/sa', body: ['one-', 'two-', 'three'] });
    t.equal(r.status, 200);
    t.equal(JSON.parse(r.body).body, 'one-two-three');
    t.equal(r.headers['x-fixture-body-seen'], '13', 'every body byte went through the stopped filter after continue');
  });

  t.test('request_headers StopIteration + request_body StopIterationAndBuffer + resume', async (t) => {
    const { port, up } = await withHost(t, {
      filters: [
        fx('statuses', {
          request_headers: 'StopIteration',
          request_body: 'StopIterationAndBuffer',
          resume_after_ms: 60,
        }),
      ],
    });
    const r = await request(port, { method: 'POST', path: '/sb', body: 'abcdef' });
    t.equal(JSON.parse(r.body).body, 'abcdef');
    t.equal(up.requests[0].headers['content-length'], '6');
    t.equal(r.headers['x-fixture-body-seen'], '6');
  });

  t.test('request_body StopIterationAndBuffer on each chunk + resume keeps order', async (t) => {
    const { port } = await withHost(t, {
      filters: [fx('statuses', { request_body: 'StopIterationAndBuffer', resume_after_ms: 30 })],
    });
    const r = await request(port, { method: 'POST', path: '/sc', body: ['a1-', 'b2-', 'c3-', 'd4'] });
    t.equal(JSON.parse(r.body).body, 'a1-b2-c3-d4');
  });

  t.test('request_trailers StopIteration + resume; trailers edited in the hook arrive', async (t) => {
    const { port, up } = await withHost(t, {
      filters: [fx('statuses', { request_trailers: 'StopIteration', resume_after_ms: 40 })],
    });
    const r = await request(port, { method: 'POST', path: '/st', body: ['x', 'y'], trailers: { 'x-orig': 'o' } });
    const echo = JSON.parse(r.body);
    t.equal(echo.body, 'xy');
    t.same(echo.trailers, { 'x-orig': 'o', 'x-fixture-trailers-seen': '1' });
    t.equal(up.requests.length, 1);
  });

  t.test('response_headers StopIteration + response_body StopIterationAndBuffer + resume', async (t) => {
    const { port } = await withHost(t, {
      filters: [
        fx('statuses', {
          response_headers: 'StopIteration',
          response_body: 'StopIterationAndBuffer',
          resume_after_ms: 40,
        }),
      ],
    });
    const r = await request(port, { path: '/big?n=100000' });
    t.equal(r.status, 200);
    t.equal(r.body, 'a'.repeat(100000));
  });

  t.test('request_body StopIterationNoBuffer: the dropped bytes never reach the upstream', async (t) => {
    const { port, up } = await withHost(t, { filters: [fx('statuses', { request_body: 'StopIterationNoBuffer' })] });
    const p = request(port, { method: 'POST', path: '/drop', body: 'secret-bytes', timeoutMs: 1500, agent: false });
    await waitFor(() => up.requests.length === 1);
    t.equal(up.requests[0].headers['content-length'], '12', 'headers went on');
    await t.rejects(p, 'the request never completes (nothing re-injects the body)');
    t.equal(up.requests[0].body, '', 'no body byte was forwarded');
    t.equal(up.requests[0].complete, false);
    const g = await request(port, { path: '/still-alive' });
    t.equal(g.status, 200, 'the host keeps serving');
  });
});

t.test('statuses: request_headers ContinueAndDontEndStream keeps a header-only request open', async (t) => {
  // The headers go on without end_stream, so the upstream request is framed chunked and stays open
  // until the filter adds a body (this fixture never does): the upstream never sees its end.
  const { port, up, host } = await withHost(t, {
    filters: [fx('statuses', { request_headers: 'ContinueAndDontEndStream' })],
  });
  const p = request(port, { path: '/open', timeoutMs: 1500, agent: false });
  await waitFor(() => up.requests.length === 1);
  t.equal(up.requests[0].headers['transfer-encoding'], 'chunked', 'headers forwarded without end_stream');
  await t.rejects(p, 'nothing ends the stream');
  t.equal(up.requests[0].complete, false, 'the upstream request never ended');
  t.equal(host.proc.exitCode, null, 'the host survives the client giving up');
});

t.test('two filters: decode runs A then B, encode runs B then A', async (t) => {
  const { port, up } = await withHost(t, {
    filters: [
      fx('headers', { request_set: { 'x-order': 'A', 'x-a': '1' }, response_set: { 'x-order': 'A', 'x-ra': '1' } }),
      fx('headers', { request_set: { 'x-order': 'B', 'x-b': '1' }, response_set: { 'x-order': 'B', 'x-rb': '1' } }),
    ],
  });
  const r = await request(port, { path: '/order' });
  t.equal(up.requests[0].headers['x-order'], 'B', 'B ran last on the request');
  t.equal(up.requests[0].headers['x-a'], '1');
  t.equal(up.requests[0].headers['x-b'], '1');
  t.equal(r.headers['x-order'], 'A', 'A ran last on the response');
  t.equal(r.headers['x-ra'], '1');
  t.equal(r.headers['x-rb'], '1');
});

t.test('a local reply from the first filter skips the second on the request path', async (t) => {
  const { port, up } = await withHost(t, {
    filters: [fx('local_reply', { status: 401, body: 'who' }), fx('statuses', { request_headers: 'StopIteration' })],
  });
  const r = await request(port, { path: '/lr' });
  t.equal(r.status, 401, 'the StopIteration of the second filter never ran');
  t.equal(r.body, 'who');
  t.equal(up.requests.length, 0);
});

t.test('buffer limits (per_connection_buffer_limit_bytes)', async (t) => {
  t.test('request over the limit while buffering -> 413', async (t) => {
    const { port, up } = await withHost(t, {
      bufferLimit: 1024,
      filters: [fx('uppercase_body', { request: true, response: false })],
    });
    const small = await request(port, { method: 'POST', path: '/small', body: 'x'.repeat(500) });
    t.equal(small.status, 200);
    t.equal(JSON.parse(small.body).body, 'X'.repeat(500));
    const big = await request(port, { method: 'POST', path: '/large', body: 'y'.repeat(4096), agent: false });
    t.equal(big.status, 413);
    t.equal(
      up.requests.filter((q) => q.path === '/large' && q.complete).length,
      0,
      'the upstream never got the full body',
    );
  });

  t.test('response over the limit before headers were sent -> 500', async (t) => {
    const { port } = await withHost(t, {
      bufferLimit: 1024,
      filters: [fx('statuses', { response_headers: 'StopIteration', response_body: 'StopIterationAndBuffer' })],
    });
    const r = await request(port, { path: '/big?n=4096', agent: false });
    t.equal(r.status, 500);
  });

  t.test('response over the limit after headers were sent -> the stream is reset', async (t) => {
    const { port } = await withHost(t, {
      bufferLimit: 1024,
      filters: [fx('uppercase_body', { request: false, response: true })],
    });
    const err = await request(port, { path: '/big?n=8192', agent: false }).then(
      (r) => ({ status: r.status, length: r.body.length }),
      (e) => e,
    );
    t.ok(err instanceof Error, `the client sees a broken response, not a complete one (${JSON.stringify(err)})`);
    const ok = await request(port, { path: '/big?n=512' });
    t.equal(ok.body, 'A'.repeat(512), 'under the limit it still works');
  });
});

t.test('slow filter hooks delay but do not break the response', async (t) => {
  const { port } = await withHost(t, { filters: [fx('slow', { ms: 300, phase: 'response_headers' })] });
  const start = Date.now();
  const r = await request(port, { path: '/slow' });
  t.equal(r.status, 200);
  t.ok(Date.now() - start >= 290, 'took the configured time');
  await sleep(0);
});
