// ABI host: the HTTP/1.1 proxy path (workers, keep-alive, chunked bodies, trailers, request ids).
import http from 'node:http';
import t from 'tap';
import { freePort, hostConfig, rawRequest, request, startHost, startUpstream } from './lib/harness.mjs';
import { fx, withHost } from './lib/setup.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

t.test('--concurrency 2: 200 concurrent requests all answered correctly', async (t) => {
  const { port, up } = await withHost(t, {
    filters: [fx('attributes', {}), fx('headers', { response_set: { 'x-via': 'fixture' } })],
    hostOpts: { concurrency: 2 },
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 200 });
  t.teardown(() => agent.destroy());
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      request(port, {
        method: 'POST',
        path: `/c/${i}?i=${i}`,
        body: `body-${i}`,
        agent,
        headers: { 'content-type': 'text/plain' },
      }),
    ),
  );
  const workers = new Set();
  let ok = 0;
  results.forEach((r, i) => {
    const echo = JSON.parse(r.body);
    if (
      r.status === 200 &&
      echo.path === `/c/${i}?i=${i}` &&
      echo.body === `body-${i}` &&
      r.headers['x-via'] === 'fixture'
    )
      ok++;
    workers.add(echo.headers['x-worker-index']);
  });
  t.equal(ok, 200, 'every response matches its own request');
  t.equal(up.requests.length, 200, 'the upstream saw each request once');
  t.ok(
    [...workers].every((w) => w === '0' || w === '1'),
    `worker indexes are 0 or 1 (${[...workers]})`,
  );
});

t.test('keep-alive: several requests reuse one downstream connection', async (t) => {
  const { port } = await withHost(t, { filters: [fx('passthrough', {})] });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const seen = [];
  for (let i = 0; i < 5; i++) {
    const r = await request(port, {
      path: `/k/${i}`,
      agent,
      method: i % 2 ? 'POST' : 'GET',
      body: i % 2 ? 'x'.repeat(i * 100) : undefined,
    });
    t.equal(r.status, 200);
    t.equal(JSON.parse(r.body).path, `/k/${i}`);
    t.not(r.headers.connection, 'close');
    seen.push([r.reusedSocket, r.localPort]);
  }
  t.equal(seen[0][0], false, 'first request opened the connection');
  t.ok(
    seen.slice(1).every(([reused]) => reused),
    'later requests reused it',
  );
  t.equal(new Set(seen.map(([, p]) => p)).size, 1, 'one local port for all five');
});

t.test('Connection: close is honoured', async (t) => {
  const { port } = await withHost(t, {});
  const r = await rawRequest(port, 'GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', {
    readUntilClose: true,
  });
  t.equal(r.status, 200);
  t.equal(r.closed, true, 'the host closed the connection after the response');
  t.equal(r.headers.connection, 'close');
  t.equal(JSON.parse(r.body).path, '/bye');
});

t.test('chunked request bodies reach the upstream intact', async (t) => {
  const { port, up } = await withHost(t, { filters: [fx('passthrough', {})] });
  // node:http frames a multi-write body without content-length as chunked
  const r = await request(port, { method: 'POST', path: '/chunked', body: ['part1-', 'part2-', 'part3'] });
  t.equal(r.status, 200);
  t.equal(JSON.parse(r.body).body, 'part1-part2-part3');
  t.equal(up.requests[0].headers['transfer-encoding'], 'chunked');
  t.equal(up.requests[0].headers['content-length'], undefined);

  // raw, odd chunk sizes, sent in several TCP writes
  const raw = await rawRequest(port, [
    'POST /raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
    '3\r\nabc\r\n',
    '1a\r\nabcdefghijklmnopqrstuvwxyz\r\n',
    '0\r\n\r\n',
  ]);
  t.equal(raw.status, 200);
  t.equal(JSON.parse(raw.body).body, 'abcabcdefghijklmnopqrstuvwxyz');

  // a big content-length body
  const big = 'z'.repeat(600 * 1024);
  const b = await request(port, { method: 'PUT', path: '/big-up', body: big });
  t.equal(b.status, 200);
  t.equal(JSON.parse(b.body).body.length, big.length);
  t.equal(up.requests[2].headers['content-length'], String(big.length));
});

t.test('request trailers reach the upstream', async (t) => {
  const { port, up } = await withHost(t, { filters: [fx('passthrough', {})] });
  const raw = await rawRequest(
    port,
    'POST /trailers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: x-req-trailer\r\n\r\n5\r\nhello\r\n0\r\nx-req-trailer: yes\r\n\r\n',
  );
  t.equal(raw.status, 200);
  const echo = JSON.parse(raw.body);
  t.equal(echo.body, 'hello');
  t.same(echo.trailers, { 'x-req-trailer': 'yes' });
  t.same(up.requests[0].trailers, { 'x-req-trailer': 'yes' }, 'node saw them as req.trailers');

  const r = await request(port, { method: 'POST', path: '/t2', body: ['a', 'b'], trailers: { 'x-second': '2' } });
  t.same(JSON.parse(r.body).trailers, { 'x-second': '2' });
});

t.test('response trailers reach the client', async (t) => {
  const { port } = await withHost(t, { filters: [fx('passthrough', {})] });
  const raw = await rawRequest(port, 'GET /chunked-trailers HTTP/1.1\r\nHost: x\r\n\r\n');
  t.equal(raw.status, 200);
  t.equal(raw.body, 'hello world');
  t.match(raw.raw, /\r\n0\r\nx-up-trailer: t\r\n\r\n$/, 'the trailer follows the last chunk on the wire');
  t.same(raw.trailers, { 'x-up-trailer': 't' });
  const r = await request(port, { path: '/chunked-trailers' });
  t.equal(r.body, 'hello world');
  t.equal(r.trailers['x-up-trailer'], 't');
});

t.test('x-request-id is added when missing and kept when present', async (t) => {
  const { port, up } = await withHost(t, { filters: [fx('attributes', {})] });
  const a = JSON.parse((await request(port, { path: '/a' })).body);
  t.match(a.headers['x-request-id'], UUID, 'a UUIDv4 was generated');
  t.equal(a.headers['x-attr-id'], a.headers['x-request-id'], 'the request id attribute agrees');
  const b = JSON.parse((await request(port, { path: '/b', headers: { 'x-request-id': 'my-id-123' } })).body);
  t.equal(b.headers['x-request-id'], 'my-id-123');
  t.equal(b.headers['x-attr-id'], 'my-id-123');
  const c = JSON.parse((await request(port, { path: '/c' })).body);
  t.not(c.headers['x-request-id'], a.headers['x-request-id'], 'ids are unique');
  t.equal(up.requests.length, 3);
});

t.test('HEAD responses carry headers but no body', async (t) => {
  const { port } = await withHost(t, {});
  const r = await rawRequest(port, 'HEAD /head HTTP/1.1\r\nHost: x\r\n\r\n');
  t.equal(r.status, 200);
  t.ok(Number(r.headers['content-length']) > 0, 'content-length of the GET body is kept');
  // the connection is still usable: a second request on a fresh socket works
  const g = await request(port, { path: '/after-head' });
  t.equal(g.status, 200);
});

t.test('malformed requests get 400 and the host keeps serving', async (t) => {
  const { port } = await withHost(t, {});
  const r = await rawRequest(port, 'GARBAGE\r\n\r\n', { readUntilClose: true });
  t.equal(r.status, 400);
  const g = await request(port, { path: '/ok' });
  t.equal(g.status, 200);
});

t.test('upstream keep-alive: sequential requests share one upstream connection per worker', async (t) => {
  const ports = [];
  const { port, up } = await withHost(t, {
    upstreamHandler(req, res) {
      ports.push(req.socket.remotePort);
      const headers = { 'content-type': 'text/plain', 'content-length': '2' };
      if (req.url === '/close') headers.connection = 'close'; // this response ends its connection
      res.writeHead(200, headers);
      res.end('ok');
      // The upstream closes this connection a moment after the response, while it sits idle.
      if (req.url === '/short-lived') res.on('finish', () => setTimeout(() => req.socket.end(), 100));
    },
  });
  // One downstream connection keeps the requests on one worker (pools are per worker, as Envoy's).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const get = async (path) => {
    const r = await request(port, { path, agent });
    t.equal(r.status, 200, `${path} answered`);
    return ports.at(-1);
  };

  const a = await get('/one');
  const b = await get('/two');
  t.equal(b, a, "the second request reached the upstream on the first one's socket");

  // An upstream that answers `connection: close` ends that connection: the next request opens another.
  await get('/close');
  const c = await get('/after-close');
  t.not(c, a, 'a closed connection is not reused');

  // The upstream closes an idle connection on its own: the proxy notices and the next request is
  // served on a new connection, not failed on the dead one.
  const d = await get('/short-lived');
  await new Promise((r) => setTimeout(r, 400));
  const e = await get('/after-idle-close');
  t.not(e, d, 'the connection the upstream closed while idle was dropped from the pool');
  t.equal(up.requests.length, 6);
});

// Each side's HTTP/1 codec passes trailers only with enable_trailers: the HCM's http_protocol_options
// for the client side, the cluster's HttpProtocolOptions (explicit HTTP/1 config) for the upstream side.
// Off, the codec parses and drops them (the body then ends with an empty end_stream chunk) and
// writes none. Measured on Envoy 1.39 and 1.40; the harness turns both on unless `trailers: false`.
t.test('trailers pass a side only when that side enables them', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const HCM = '                http_protocol_options:\n                  enable_trailers: true\n';
  const CLUSTER = [
    '      typed_extension_protocol_options:',
    '        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:',
    '          "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"',
    '          explicit_http_config:',
    '            http_protocol_options:',
    '              enable_trailers: true',
    '',
  ].join('\n');
  for (const [down, upside] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ]) {
    await t.test(`client side ${down ? 'on' : 'off'}, upstream side ${upside ? 'on' : 'off'}`, async (t) => {
      const port = await freePort();
      // The fixture adds a request trailer when its trailers hook runs (the filter saw trailers).
      let yaml = hostConfig({ port, filters: [fx('statuses', {})], clusters: { upstream: up.port }, trailers: false });
      t.notMatch(yaml, /enable_trailers/, "trailers: false leaves Envoy's default");
      if (down) yaml = yaml.replace(/^( *stat_prefix: "ingress"\n)/m, `$1${HCM}`);
      if (upside) yaml = yaml.replace(/^( *connect_timeout: "5s"\n)/m, `$1${CLUSTER}`);
      const host = await startHost(yaml);
      t.teardown(() => host.stop());
      const before = up.requests.length;
      const r = await rawRequest(
        port,
        'POST /chunked-trailers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-req-trailer: yes\r\n\r\n',
      );
      t.equal(r.status, 200);
      t.equal(r.body, 'hello world', 'the response body is whole');
      const seen = up.requests[before];
      t.equal(seen.body, 'hello', 'the request body is whole');
      t.equal(seen.headers['transfer-encoding'], 'chunked', 'the request still goes chunked');
      const wantUp = down && upside ? { 'x-req-trailer': 'yes', 'x-fixture-trailers-seen': '1' } : {};
      t.same(seen.trailers, wantUp, 'request trailers reach the upstream only with both sides on');
      t.equal(r.headers.trailer, 'x-up-trailer', 'the Trailer header passes either way');
      if (down && upside) t.match(r.raw, /\r\n0\r\nx-up-trailer: t\r\n\r\n$/, 'response trailers reach the client');
      else t.match(r.raw, /\r\n0\r\n\r\n$/, 'the chunked response ends without trailers');
    });
  }
});
