// ABI host: bootstrap parsing. What Envoy accepts and means is what the host must accept and mean;
// what it cannot honour it must reject at startup, naming the field.
import t from 'tap';
import {
  freePort,
  hostConfig,
  hostOnly,
  request,
  runHostExpectFailure,
  startHost,
  startUpstream,
} from './lib/harness.mjs';
import { fx, withHost } from './lib/setup.mjs';

const headersCfg = { request_set: { 'x-added': 'yes' }, response_set: { 'x-resp': '1' } };

t.test('the example config proxies, with fixture header edits both ways', async (t) => {
  const { port, up } = await withHost(t, { filters: [fx('headers', headersCfg)] });
  const r = await request(port, { path: '/hello?x=1', headers: { 'x-client': 'c' } });
  t.equal(r.status, 200);
  t.equal(r.headers['x-resp'], '1', 'response header set by the module reaches the client');
  const echo = JSON.parse(r.body);
  t.equal(echo.path, '/hello?x=1');
  t.equal(echo.headers['x-added'], 'yes', 'request header set by the module reaches the upstream');
  t.equal(echo.headers['x-client'], 'c', 'client headers pass through');
  t.equal(up.requests.length, 1);
  t.equal(up.requests[0].headers['x-added'], 'yes');
});

t.test('Struct and StringValue filter_config both reach the module', async (t) => {
  t.test('Struct', async (t) => {
    const { port } = await withHost(t, { filters: [fx('headers', { request_set: { 'x-from': 'struct' } })] });
    const r = await request(port, { path: '/s' });
    t.equal(JSON.parse(r.body).headers['x-from'], 'struct');
  });
  t.test('StringValue (raw bytes, no wrapper)', async (t) => {
    const { port } = await withHost(t, {
      filters: [fx('headers', JSON.stringify({ request_set: { 'x-from': 'string' } }))],
    });
    const r = await request(port, { path: '/s' });
    t.equal(JSON.parse(r.body).headers['x-from'], 'string');
  });
  t.test('Struct numbers arrive as JSON integers (403, not 403.0), as Envoy serializes them', async (t) => {
    const { port, up } = await withHost(t, {
      filters: [fx('local_reply', { status: 418, body: 'teapot', headers: { 'x-n': 'v' } })],
    });
    const r = await request(port, { path: '/n' });
    t.equal(r.status, 418);
    t.equal(r.body, 'teapot');
    t.equal(up.requests.length, 0);
  });
});

t.test('unsupported fields are rejected, naming the field', async (t) => {
  const port = await freePort();
  const base = { port, filters: [fx('passthrough')], clusters: { upstream: 1 } };

  t.test('listener field', async (t) => {
    const r = await runHostExpectFailure(hostConfig({ ...base, listenerExtra: { foo: 1 } }));
    t.not(r.code, 0, 'non-zero exit');
    t.equal(r.signal, null, 'an orderly exit, not a crash');
    t.match(r.stderr, /error initializing configuration/);
    t.match(r.stderr, /static_resources\.listeners\[0\]\.foo/);
  });
  t.test('top-level field', async (t) => {
    const r = await runHostExpectFailure(hostConfig({ ...base, bootstrapExtra: { layered_runtime: { layers: [] } } }));
    t.not(r.code, 0);
    t.match(r.stderr, /error initializing configuration/);
    t.match(r.stderr, /layered_runtime/);
  });
  t.test('unsupported filter_config type', async (t) => {
    const yaml = hostConfig({ ...base, filters: [fx('passthrough', {})] }).replace(
      'type.googleapis.com/google.protobuf.Struct',
      'type.googleapis.com/google.protobuf.Duration',
    );
    t.match(yaml, /protobuf\.Duration/);
    const r = await runHostExpectFailure(yaml);
    t.not(r.code, 0);
    t.match(r.stderr, /filter_config\.@type/);
  });
  t.test('terminal_filter (not supported by the host) is rejected', async (t) => {
    const yaml = hostConfig(base).replace(
      /filter_name: "passthrough"/,
      (m) => `${m}\n${' '.repeat(22)}terminal_filter: true`,
    );
    t.match(yaml, /terminal_filter: true/);
    const r = await runHostExpectFailure(yaml);
    t.not(r.code, 0);
    t.match(r.stderr, /terminal_filter/);
  });
});

t.test('trailer and stats flush settings: accepted as Envoy accepts them, the rest rejected', async (t) => {
  const port = await freePort();
  const base = { port, filters: [fx('passthrough')], clusters: { upstream: 1 } };
  const expectRejected = async (t, yaml, field) => {
    const r = await runHostExpectFailure(yaml);
    t.not(r.code, 0, 'non-zero exit');
    t.equal(r.signal, null, 'an orderly exit');
    t.match(r.stderr, field);
  };

  t.test('enable_trailers on both sides and a stats flush interval start', async (t) => {
    const yaml = hostConfig({ ...base, adminPort: await freePort() });
    t.match(yaml, /enable_trailers: true[\s\S]*enable_trailers: true/);
    t.match(yaml, /stats_flush_interval: "0\.5s"/);
    const host = await startHost(yaml);
    t.equal(await host.stop(), 0);
  });
  // Rejected by Envoy too (proto validation, unknown extension name).
  t.test('stats_flush_interval outside [1ms, 300s)', async (t) => {
    for (const v of ['0s', '0.0005s', '300s']) {
      await expectRejected(
        t,
        hostConfig({ ...base, bootstrapExtra: { stats_flush_interval: v } }),
        /stats_flush_interval/,
      );
    }
  });
  t.test('explicit_http_config without a protocol', async (t) => {
    const yaml = hostConfig(base).replace(
      /explicit_http_config:\n *http_protocol_options:\n *enable_trailers: true/,
      'explicit_http_config: {}',
    );
    t.match(yaml, /explicit_http_config: \{\}/);
    await expectRejected(t, yaml, /explicit_http_config|ExplicitHttpConfig/); // the host's field path, Envoy's message
  });
  t.test('protocol options under another name', async (t) => {
    const yaml = hostConfig(base).replace('envoy.extensions.upstreams.http.v3.HttpProtocolOptions:', 'foo:');
    await expectRejected(t, yaml, /typed_extension_protocol_options\.foo|name: 'foo'/);
  });
  // Envoy honours these; the host cannot, so it refuses to start rather than ignore them.
  t.test('other HTTP/1 options', async (t) => {
    if (hostOnly(t, 'Envoy accepts accept_http_10')) return;
    const yaml = hostConfig(base).replace(
      /^( *)enable_trailers: true$/m,
      '$1enable_trailers: true\n$1accept_http_10: true',
    );
    await expectRejected(t, yaml, /http_protocol_options\.accept_http_10/);
  });
  t.test('an HTTP/2 upstream', async (t) => {
    if (hostOnly(t, 'Envoy speaks HTTP/2 upstream')) return;
    const yaml = hostConfig(base).replace(
      /^( *)explicit_http_config:$/m,
      '$1explicit_http_config:\n$1  http2_protocol_options: {}',
    );
    await expectRejected(t, yaml, /explicit_http_config\.http2_protocol_options/);
  });
});

t.test('a route naming an unknown cluster is rejected', async (t) => {
  const port = await freePort();
  const r = await runHostExpectFailure(
    hostConfig({ port, filters: [], clusters: { upstream: 1 }, routes: [{ prefix: '/', cluster: 'nope' }] }),
  );
  t.not(r.code, 0);
  t.match(r.stderr, /error initializing configuration/);
  t.match(r.stderr, /unknown cluster 'nope'/);
});

t.test('direct_response routes answer without the upstream', async (t) => {
  const { port, up } = await withHost(t, {
    filters: [fx('headers', headersCfg)],
    routes: [
      { prefix: '/direct', direct: { status: 202, body: 'from the route' } },
      { prefix: '/empty', direct: { status: 204 } },
      { prefix: '/', cluster: 'upstream' },
    ],
  });
  const r = await request(port, { path: '/direct/x' });
  t.equal(r.status, 202);
  t.equal(r.body, 'from the route');
  t.equal(r.headers['x-resp'], '1', 'filters still see the response of a direct_response');
  const e = await request(port, { path: '/empty' });
  t.equal(e.status, 204);
  t.equal(e.body, '');
  t.equal(up.requests.length, 0, 'upstream never contacted');
  const p = await request(port, { path: '/other' });
  t.equal(p.status, 200);
  t.equal(up.requests.length, 1);
});

t.test('exact path vs prefix matching, first match wins', async (t) => {
  const { port } = await withHost(t, {
    routes: [
      { path: '/exact', direct: { status: 201, body: 'exact' } },
      { prefix: '/exact', direct: { status: 202, body: 'prefix' } },
      { prefix: '/', direct: { status: 203, body: 'root' } },
    ],
  });
  const cases = [
    ['/exact', 201],
    ['/exact?q=1', 201], // path matching ignores the query string
    ['/exact/sub', 202],
    ['/exactly', 202],
    ['/Exact', 203], // case-sensitive
    ['/', 203],
  ];
  for (const [path, status] of cases) {
    const r = await request(port, { path });
    t.equal(r.status, status, `${path} -> ${status}`);
  }
});

t.test('no matching route -> 404', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const { port } = await withHost(t, { routes: [{ prefix: '/only', cluster: 'upstream' }] });
  const r = await request(port, { path: '/elsewhere' });
  t.equal(r.status, 404);
});
