// The protocols real Envoy brings to a JS filter: HTTP/2 on both sides of the proxy (h2c with prior
// knowledge downstream, plain-text h2 upstream) and gRPC (a @grpc/grpc-js client and server), with the
// filters in test/js/protocol-filters.cjs. Runs only on real Envoy (NODEVOY_PROXY=envoy@<version>): the
// test host speaks HTTP/1.1 only.
import t from 'tap';
import http2 from 'node:http2';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import { adminGet, freePort, onEnvoy, proxy, startHost, toYaml } from './lib/harness.mjs';

const bundle = path.join(path.dirname(fileURLToPath(import.meta.url)), 'js', 'protocol-filters.cjs');

// ------------------------------------------------------------------------------------------------
// Envoy: one listener (codec AUTO: HTTP/1.1 or h2c prior knowledge), one JS filter, one h2 cluster
// ------------------------------------------------------------------------------------------------

const H2_UPSTREAM = {
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
    '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    explicit_http_config: { http2_protocol_options: {} },
  },
};

function bootstrap({ port, adminPort, filterName, upstreamPort }) {
  const at = (p) => ({ socket_address: { address: '127.0.0.1', port_value: p } });
  return `${toYaml({
    admin: { address: at(adminPort) },
    static_resources: {
      listeners: [
        {
          name: 'main',
          address: at(port),
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'ingress',
                    codec_type: 'AUTO',
                    route_config: {
                      name: 'local',
                      virtual_hosts: [
                        {
                          name: 'all',
                          domains: ['*'],
                          routes: [{ match: { prefix: '/' }, route: { cluster: 'upstream' } }],
                        },
                      ],
                    },
                    http_filters: [
                      {
                        name: filterName,
                        typed_config: {
                          '@type':
                            'type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter',
                          dynamic_module_config: { name: 'nodevoy', do_not_close: true },
                          filter_name: filterName,
                          filter_config: {
                            '@type': 'type.googleapis.com/google.protobuf.Struct',
                            value: { module: bundle, config: {} },
                          },
                        },
                      },
                      {
                        name: 'envoy.filters.http.router',
                        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: 'upstream',
          connect_timeout: '5s',
          type: 'STATIC',
          typed_extension_protocol_options: H2_UPSTREAM,
          load_assignment: {
            cluster_name: 'upstream',
            endpoints: [{ lb_endpoints: [{ endpoint: { address: at(upstreamPort) } }] }],
          },
        },
      ],
    },
  })}\n`;
}

/** Starts Envoy in front of upstreamPort with one JS filter; stops it at teardown and fails on an unclean exit. */
async function startEnvoy(t, filterName, upstreamPort) {
  const port = await freePort();
  const adminPort = await freePort();
  const host = await startHost(bootstrap({ port, adminPort, filterName, upstreamPort }), { concurrency: 2 });
  t.teardown(() => host.stopClean());
  return host;
}

// ------------------------------------------------------------------------------------------------
// HTTP/2: a plain-text upstream and a prior-knowledge client
// ------------------------------------------------------------------------------------------------

/**
 * A node:http2 server. Records every stream ({headers, body, session}: session numbers the h2
 * connections) and answers it once its body has ended with 200, JSON {path, body, tag} and the headers
 * x-up-tag (the request's x-tag) and x-up-secret. With `hold: n` the first n streams are all held until
 * the n-th has arrived, then answered in reverse order: only streams in flight together can pass.
 */
async function startH2Upstream({ hold = 0 } = {}) {
  const streams = [];
  const held = [];
  let released = false;
  const sessionIds = new WeakMap();
  let sessions = 0;
  const server = http2.createServer();
  server.on('session', (s) => sessionIds.set(s, ++sessions));
  server.on('stream', (stream, headers) => {
    const rec = { headers, body: '', session: sessionIds.get(stream.session) };
    streams.push(rec);
    stream.setEncoding('utf8');
    stream.on('data', (d) => (rec.body += d));
    stream.on('error', () => {});
    stream.on('end', () => {
      const answer = () => {
        const out = JSON.stringify({ path: headers[':path'], body: rec.body, tag: headers['x-tag'] ?? null });
        stream.respond({
          ':status': 200,
          'content-type': 'application/json',
          'x-up-tag': headers['x-tag'] ?? '-',
          'x-up-secret': 'hidden',
        });
        stream.end(out);
      };
      if (!hold || released) return answer();
      held.push(answer);
      if (held.length === hold) {
        released = true;
        while (held.length) held.pop()(); // the last to arrive is answered first
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    streams,
    sessions: () => sessions,
    close: () =>
      new Promise((resolve) => {
        for (const answer of held.splice(0)) answer();
        server.close(() => resolve());
      }),
  };
}

/** A prior-knowledge h2c session to Envoy, closed at teardown. */
function h2Connect(t, port) {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  t.teardown(() => new Promise((resolve) => session.close(resolve)));
  return session;
}

/** One request on an h2 session. body: a string, or an array of pieces written 20 ms apart. */
function h2Request(session, { method = 'GET', path: p = '/', headers = {}, body, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': method, ':path': p, ...headers }, { endStream: body === undefined });
    const chunks = [];
    let head;
    let trailers = {};
    const timer = setTimeout(() => req.close(http2.constants.NGHTTP2_CANCEL), timeoutMs);
    req.on('response', (h) => (head = h));
    req.on('trailers', (tr) => (trailers = tr));
    req.on('data', (d) => chunks.push(d));
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on('close', () => {
      clearTimeout(timer);
      if (!head) return reject(new Error(`h2 ${method} ${p}: closed without a response (rst code ${req.rstCode})`));
      resolve({
        status: head[':status'],
        headers: head,
        body: Buffer.concat(chunks).toString('utf8'),
        trailers,
        streamId: req.id,
        rstCode: req.rstCode,
      });
    });
    if (Array.isArray(body)) {
      (async () => {
        for (const [i, piece] of body.entries()) {
          if (i) await new Promise((r) => setTimeout(r, 20));
          req.write(piece);
        }
        req.end();
      })();
    } else if (body !== undefined) {
      req.end(body);
    }
  });
}

// ------------------------------------------------------------------------------------------------
// gRPC: a service defined without a .proto (JSON messages), its server and a client
// ------------------------------------------------------------------------------------------------

const toJson = (v) => Buffer.from(JSON.stringify(v));
const fromJson = (b) => JSON.parse(b.toString('utf8'));
const method = (name, responseStream) => ({
  path: `/nodevoy.test.Tenants/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: toJson,
  requestDeserialize: fromJson,
  responseSerialize: toJson,
  responseDeserialize: fromJson,
});
const TenantsService = { hello: method('Hello', false), count: method('Count', true) };
const TenantsClient = grpc.makeGenericClientConstructor(TenantsService, 'Tenants');

/**
 * The Tenants server. hello({name, fail}) answers {greeting, checked} (checked: the x-tenant-checked
 * metadata it received), or NOT_FOUND when fail is set (before any message: a trailers-only response);
 * count({n}) streams n messages {i, checked}. calls records {method, metadata, request} per call.
 */
async function startGrpcServer() {
  const calls = [];
  const server = new grpc.Server();
  const checked = (call) => call.metadata.get('x-tenant-checked')[0] ?? null;
  server.addService(TenantsService, {
    hello(call, callback) {
      calls.push({ method: 'hello', metadata: call.metadata.getMap(), request: call.request });
      if (call.request.fail) return callback({ code: grpc.status.NOT_FOUND, details: 'no such greeting' });
      callback(null, { greeting: `hello ${call.request.name}`, checked: checked(call) });
    },
    count(call) {
      calls.push({ method: 'count', metadata: call.metadata.getMap(), request: call.request });
      for (let i = 0; i < call.request.n; i++) call.write({ i, checked: checked(call) });
      call.end();
    },
  });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { port, calls, close: () => new Promise((resolve) => server.tryShutdown(() => resolve())) };
}

function grpcClient(t, port) {
  const client = new TenantsClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  return client;
}

/** One length-prefixed gRPC message (uncompressed), for a call made without grpc-js. */
const grpcFrame = (message) => {
  const payload = toJson(message);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
};

const metadata = (tenant) => {
  const md = new grpc.Metadata();
  if (tenant !== undefined) md.set('x-tenant', tenant);
  return md;
};
const deadline = () => Date.now() + 20000;

/** A unary call → {error, response, status} once both the callback and the final status arrived. */
function unary(client, request, tenant) {
  return new Promise((resolve) => {
    let result;
    let status;
    const done = () => result && status && resolve({ ...result, status });
    const call = client.hello(request, metadata(tenant), { deadline: deadline() }, (error, response) => {
      result = { error, response };
      done();
    });
    call.on('status', (s) => {
      status = s;
      done();
    });
  });
}

/** A server-streaming call → {messages, error, status} once the final status arrived. */
function serverStream(client, request, tenant) {
  return new Promise((resolve) => {
    const messages = [];
    let error = null;
    const call = client.count(request, metadata(tenant), { deadline: deadline() });
    call.on('data', (m) => messages.push(m));
    call.on('error', (e) => (error = e));
    call.on('status', (status) => setImmediate(() => resolve({ messages, error, status })));
  });
}

/** The grpc_calls counter of the grpcTenant filter: {"headers/5": 1, "trailers/0": 2, ...}. */
async function grpcCallStats(adminPort) {
  const out = {};
  const stats = await adminGet(adminPort, '/stats?filter=grpcTenant%5C.grpc_calls');
  for (const m of stats.matchAll(
    /^dynamicmodulescustom\.grpcTenant\.grpc_calls\.where\.(\w+)\.status\.(\w+): (\d+)$/gm,
  )) {
    if (m[3] !== '0') out[`${m[1]}/${m[2]}`] = Number(m[3]);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------

if (!onEnvoy)
  t.plan(0, `HTTP/2 and gRPC need real Envoy (${proxy.label} speaks HTTP/1.1 only); run with NODEVOY_PROXY=envoy@1.40`);
const test = onEnvoy ? t.test.bind(t) : () => {};

test('HTTP/2 both ways: concurrent streams on one connection, headers and bodies rewritten by JS', async (t) => {
  const N = 8;
  const up = await startH2Upstream({ hold: N });
  t.teardown(() => up.close());
  const envoy = await startEnvoy(t, 'h2Rewrite', up.port);
  const session = h2Connect(t, envoy.port);

  const sent = Array.from({ length: N }, (_, i) => ({
    tag: `s${i}`,
    body: [`hello from stream ${i}, `, 'second piece'],
  }));
  const responses = await Promise.all(
    sent.map(({ tag, body }, i) =>
      h2Request(session, {
        method: 'POST',
        path: `/echo/${i}?q=${i}`,
        headers: { 'x-tag': tag, 'x-drop-me': 'please', 'content-type': 'text/plain' },
        body,
      }),
    ),
  );

  t.equal(
    up.streams.length,
    N,
    `all ${N} streams were at the upstream together (it answered none before the last arrived)`,
  );
  t.equal(up.sessions(), 1, 'Envoy multiplexed all of them on one h2 connection to the upstream');
  t.equal(new Set(responses.map((r) => r.streamId)).size, N, 'the client used one h2 stream per request');
  responses.forEach((r, i) => {
    t.equal(r.status, 200, `stream ${i}: 200`);
    t.equal(
      r.headers['x-filter-saw'],
      `200 s${i}`,
      `stream ${i}: onResponseHeaders read its own upstream's status and header`,
    );
    t.notOk('x-up-secret' in r.headers, `stream ${i}: the response header the filter deleted is gone`);
    const wrapped = JSON.parse(r.body);
    t.equal(wrapped.upstreamStatus, 200, `stream ${i}: res.status was readable while the body was held`);
    t.same(
      JSON.parse(wrapped.wrapped),
      { path: `/echo/${i}?q=${i}`, body: `HELLO FROM STREAM ${i}, SECOND PIECE`, tag: `s${i}` },
      `stream ${i}: its own body, upper-cased by onRequestData, wrapped whole by onResponseHeaders`,
    );
    if (r.headers['content-length'] !== undefined)
      t.equal(
        Number(r.headers['content-length']),
        Buffer.byteLength(r.body),
        `stream ${i}: content-length follows the rewrite`,
      );
  });
  for (const s of up.streams) {
    const i = Number(s.headers['x-tag'].slice(1));
    t.equal(
      s.headers['x-seen'],
      `POST 127.0.0.1:${envoy.port} /echo/${i}?q=${i}`,
      'the filter read method, :authority and :path',
    );
    t.equal(s.headers['x-seen-protocol'], 'HTTP/2', 'request.protocol is HTTP/2');
    t.equal(s.headers['x-stream-tag'], `s${i}`, "the header the filter set from the request's own x-tag");
    t.notOk('x-drop-me' in s.headers, 'the request header the filter deleted is gone');
  }
});

test('HTTP/2: a local reply from the filter ends only its own stream', async (t) => {
  const up = await startH2Upstream();
  t.teardown(() => up.close());
  const envoy = await startEnvoy(t, 'h2Rewrite', up.port);
  const session = h2Connect(t, envoy.port);

  const [denied, allowed] = await Promise.all([
    h2Request(session, { path: '/deny/me', headers: { 'x-tag': 'd' } }),
    h2Request(session, { method: 'POST', path: '/fine', headers: { 'x-tag': 'f' }, body: 'ok' }),
  ]);
  t.equal(denied.status, 403, 'the reply status');
  t.equal(denied.body, 'denied GET /deny/me', 'the reply body');
  t.equal(denied.headers['x-denied-by'], 'nodevoy', 'the reply header');
  t.equal(denied.headers['content-type'], 'text/plain', 'a reply body gets text/plain');
  t.equal(denied.rstCode, http2.constants.NGHTTP2_NO_ERROR, 'the reply stream ended cleanly (no RST_STREAM error)');
  t.equal(allowed.status, 200, 'the concurrent stream on the same connection went on');
  t.equal(JSON.parse(JSON.parse(allowed.body).wrapped).body, 'OK', 'and was transformed as usual');
  t.same(
    up.streams.map((s) => s.headers[':path']),
    ['/fine'],
    'only the allowed stream reached the upstream',
  );

  const again = await h2Request(session, { path: '/after' });
  t.equal(again.status, 200, 'the connection serves the next stream');
  t.notOk(session.destroyed || session.closed, 'the h2 session is still open');
});

test('gRPC: the filter reads and adds metadata; grpc-status is read from the trailers', async (t) => {
  const srv = await startGrpcServer();
  t.teardown(() => srv.close());
  const envoy = await startEnvoy(t, 'grpcTenant', srv.port);
  const client = grpcClient(t, envoy.port);

  const ok = await unary(client, { name: 'ada' }, 'acme');
  t.error(ok.error, 'the unary call succeeds');
  t.same(
    ok.response,
    { greeting: 'hello ada', checked: 'ACME via application/grpc' },
    'the server saw the metadata the filter added',
  );
  t.equal(ok.status.code, grpc.status.OK, 'status OK');
  const hello = srv.calls.at(-1);
  t.equal(hello.metadata['x-tenant'], 'acme', "the caller's metadata passed through");
  t.equal(hello.metadata['x-grpc-method'], '/nodevoy.test.Tenants/Hello', 'req.path is the gRPC method');
  const trailing = ok.status.metadata.getMap();
  t.equal(
    trailing['x-filter-grpc-status'],
    '0',
    'onResponseTrailers read grpc-status 0 and added a trailer the client got',
  );
  t.equal(trailing['x-filter-tenant'], 'acme', 'per-stream state reached onResponseTrailers');
  if (proxy.version.startsWith('1.39.')) {
    t.equal(
      trailing['x-filter-attr-grpc-status'],
      'undefined',
      'Envoy 1.39 gives no response.grpc_status attribute (1.40 does)',
    );
  } else {
    t.equal(trailing['x-filter-attr-grpc-status'], '0', 'the response.grpc_status attribute agrees');
  }

  const stream = await serverStream(client, { n: 3 }, 'globex');
  t.error(stream.error, 'the server-streaming call succeeds');
  t.same(
    stream.messages,
    [0, 1, 2].map((i) => ({ i, checked: 'GLOBEX via application/grpc' })),
    'every streamed message arrived, in order',
  );
  t.equal(
    stream.status.metadata.getMap()['x-filter-grpc-status'],
    '0',
    'onResponseTrailers ran after the last message',
  );
  t.equal(stream.status.metadata.getMap()['x-filter-tenant'], 'globex', "for this call's tenant");

  const failed = await unary(client, { name: 'x', fail: true }, 'acme');
  t.equal(failed.error?.code, grpc.status.NOT_FOUND, "the server's error reaches the client");
  t.equal(failed.error?.details, 'no such greeting', 'with its message');
  t.equal(
    failed.status.metadata.getMap()['x-filter-grpc-status'],
    '5',
    'a trailers-only error: grpc-status arrives in the response headers, where onResponseHeaders read it',
  );

  t.same(await grpcCallStats(envoy.adminPort), { 'trailers/0': 2, 'headers/5': 1 }, 'the grpc_calls counter in /stats');
  t.equal(srv.calls.length, 3, 'three calls reached the server');
});

test('gRPC: a local reply that names its grpc-status reaches the client as that gRPC error', async (t) => {
  const srv = await startGrpcServer();
  t.teardown(() => srv.close());
  const envoy = await startEnvoy(t, 'grpcTenant', srv.port);
  const client = grpcClient(t, envoy.port);

  const blocked = await unary(client, { name: 'x' }, 'blocked');
  t.equal(
    blocked.error?.code,
    grpc.status.PERMISSION_DENIED,
    'ctx.respond(403, body, {"grpc-status": "7"}) → PERMISSION_DENIED',
  );
  t.equal(blocked.error?.details, 'tenant blocked', 'the reply body became grpc-message');
  const streamed = await serverStream(client, { n: 3 }, 'blocked');
  t.equal(streamed.error?.code, grpc.status.PERMISSION_DENIED, 'the same on a server-streaming call');
  t.same(streamed.messages, [], 'no message');
  t.equal(srv.calls.length, 0, 'no call reached the server');
});

// Envoy answers a local reply to a gRPC request with a trailers-only gRPC response (:status 200,
// content-type application/grpc, the reply body as grpc-message). Envoy's send_response passes grpc_status 0
// to sendLocalReply, so the module names the status itself for gRPC requests, mapped from the HTTP status
// (envoy-filter/grpc_reply.h): 401 → UNAUTHENTICATED, 500 → UNKNOWN. Without that a refused call read as OK.
test('gRPC: a plain local reply (401) and a failed handler (500) become gRPC errors', async (t) => {
  const srv = await startGrpcServer();
  t.teardown(() => srv.close());
  const envoy = await startEnvoy(t, 'grpcTenant', srv.port);

  // on the wire, with a plain h2 client
  const session = h2Connect(t, envoy.port);
  const call = (tenant) =>
    h2Request(session, {
      method: 'POST',
      path: '/nodevoy.test.Tenants/Hello',
      headers: { 'content-type': 'application/grpc', te: 'trailers', ...(tenant ? { 'x-tenant': tenant } : {}) },
      body: grpcFrame({ name: 'x' }),
    });
  const missingWire = await call();
  t.equal(missingWire.status, 200, 'a trailers-only gRPC response: :status 200');
  t.equal(missingWire.headers['content-type'], 'application/grpc', 'content-type application/grpc');
  t.equal(missingWire.headers['grpc-message'], 'missing x-tenant', 'the reply body is the grpc-message');
  t.equal(missingWire.body, '', 'no body');
  t.same(missingWire.trailers, {}, 'no trailers');
  t.equal(missingWire.headers['grpc-status'], '16', 'grpc-status UNAUTHENTICATED (16)');
  const crashedWire = await call('crash');
  t.equal(crashedWire.status, 200, 'the failure reply is a trailers-only gRPC response too');
  t.equal(
    crashedWire.headers['grpc-message'],
    'nodevoy: the filter failed to process this request',
    "the failure reply's body is the grpc-message (no trailing newline)",
  );
  t.equal(crashedWire.headers['grpc-status'], '2', 'grpc-status UNKNOWN (2) for the failure reply (500)');

  // with grpc-js
  const client = grpcClient(t, envoy.port);
  const missing = await unary(client, { name: 'x' });
  t.ok(missing.error, 'the unary call fails');
  t.equal(missing.error?.code, grpc.status.UNAUTHENTICATED, 'ctx.respond(401, ...) → UNAUTHENTICATED');
  t.equal(missing.error?.details, 'missing x-tenant', 'the reply body is the error message');
  const missingStream = await serverStream(client, { n: 3 });
  t.same(missingStream.messages, [], 'the server-streaming call gets no message');
  t.equal(missingStream.error?.code, grpc.status.UNAUTHENTICATED, 'and fails, rather than ending with OK');
  const crashed = await unary(client, { name: 'x' }, 'crash');
  t.ok(crashed.error, 'the unary call fails');
  t.equal(crashed.error?.code, grpc.status.UNKNOWN, 'a failed handler (500) → UNKNOWN');
  t.equal(srv.calls.length, 0, 'no call reached the server');
});
