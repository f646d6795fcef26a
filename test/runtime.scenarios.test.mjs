// The shared scenarios (test/scenarios/scenarios.mjs) through libnodevoy.so in the ABI host, over real
// HTTP: a real upstream that does what each scenario says, real servers behind the clusters ctx.fetch
// calls, stats from the admin port and lines from the host's log. test/testkit.scenarios.test.mjs runs the
// same scenarios through nodevoy/testing; the two must agree.
import t from 'tap';
import http from 'node:http';
import { adminGet, sendBody, sleep } from './lib/harness.mjs';
import { withHost } from './lib/setup.mjs';
import { checkScenario, filtersPath, sameLabels, scenarios } from './scenarios/scenarios.mjs';

// filter_config: the bundle, the filter's config, and the failure policy fields.
const js = (filterName, config, policy = {}) => ({
  module: 'nodevoy',
  filterName,
  config: { module: filtersPath, ...(config === undefined ? {} : { config }), ...policy },
});

// The scenario's upstream behaviour on the harness's upstream (called once the request body ended).
function upstreamHandler(fn) {
  return async (req, res, record) => {
    const reply = await fn({
      method: record.method,
      path: record.path,
      headers: record.headers,
      body: record.body,
      trailers: record.trailers,
    });
    if (reply.reset) {
      req.socket.destroy();
      return;
    }
    const chunks = reply.body === undefined ? [] : Array.isArray(reply.body) ? reply.body : [reply.body];
    const headers = { ...(reply.headers ?? {}) };
    if (reply.trailers) headers.trailer = Object.keys(reply.trailers).join(', ');
    else if (!Array.isArray(reply.body) && chunks.length && headers['content-length'] === undefined)
      headers['content-length'] = String(Buffer.byteLength(chunks[0]));
    res.writeHead(reply.status, headers);
    for (let i = 0; i < chunks.length; i++) {
      res.write(chunks[i]);
      if (i + 1 < chunks.length) await sleep(20); // separate data events
    }
    if (reply.trailers) res.addTrailers(reply.trailers);
    res.end();
  };
}

// A server behind a cluster, adapting node:http to the scenario's web-standard handler.
async function startCluster(handler) {
  const sockets = new Set();
  const server = http.createServer(async (req, res) => {
    const parts = [];
    for await (const c of req) parts.push(c);
    const body = Buffer.concat(parts);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (!['host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding'].includes(k))
        headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    }
    const withBody = body.length > 0 && req.method !== 'GET' && req.method !== 'HEAD';
    let response;
    try {
      response = await handler(
        new Request(`http://${req.headers.host}${req.url}`, {
          method: req.method,
          headers,
          body: withBody ? body : undefined,
        }),
      );
    } catch {
      req.socket.destroy();
      return;
    }
    const out = Buffer.from(await response.arrayBuffer());
    const h = {};
    response.headers.forEach((v, k) => {
      h[k] = v;
    });
    h['content-length'] = String(out.length);
    res.writeHead(response.status, h);
    res.end(out);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

// The client: resolves with what it got (never rejects); reset when the response did not complete.
function send(port, { method = 'GET', path = '/', headers = {}, body, trailers }) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (out) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(out);
    };
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false });
    const timer = setTimeout(() => req.destroy(new Error('timed out')), 20000);
    let response;
    req.on('error', () => {
      if (!response) finish({ reset: true });
    });
    req.on('response', (res) => {
      const chunks = [];
      response = { status: res.statusCode, headers: res.headers, body: '', trailers: {} };
      const end = (complete) => {
        response.body = Buffer.concat(chunks).toString('utf8');
        response.trailers = res.trailers ?? {};
        finish({ response, reset: !complete });
      };
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => end(res.complete));
      res.on('aborted', () => end(false));
      res.on('error', () => end(false));
      res.on('close', () => end(res.complete));
    });
    // The proxy may answer (and close) before the client finished writing.
    sendBody(req, body, trailers).catch(() => {});
  });
}

const LEVEL = { warning: 'warn' };

for (const s of scenarios) {
  t.test(s.name, async (t) => {
    const clusters = {};
    for (const [name, handler] of Object.entries(s.clusters ?? {})) {
      const c = await startCluster(handler);
      t.teardown(() => c.close());
      clusters[name] = c.port;
    }
    const routes = s.routeConfig
      ? [{ prefix: '/', perFilter: { [s.filter]: { perRouteName: s.filter, config: { config: s.routeConfig } } } }]
      : undefined;
    const { up, port, adminPort, host } = await withHost(t, {
      filters: [js(s.filter, s.config, s.policy)],
      clusters,
      routes,
      bufferLimit: s.bufferLimit,
      upstreamHandler: s.upstream ? upstreamHandler(s.upstream) : undefined,
      hostOpts: { concurrency: 1 },
    });
    const got = await send(port, s.request);
    const rec = up.requests[0];
    await checkScenario(t, s, {
      upstream: rec && {
        method: rec.method,
        path: rec.path,
        headers: rec.headers,
        body: rec.body,
        trailers: rec.trailers,
        complete: rec.complete,
      },
      response: got.response,
      reset: got.reset,
      metric: async (name, labels) => {
        const prom = `envoy_${`dynamicmodulescustom.${name}`.replace(/[^A-Za-z0-9]/g, '_')}`;
        for (const line of (await adminGet(adminPort, '/stats/prometheus')).split('\n')) {
          const m = /^(\w+?)(_count)?(?:\{(.*)\})? (\d+)$/.exec(line);
          if (!m || m[1] !== prom) continue;
          const ls = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
          if (!sameLabels(ls, labels)) continue;
          return m[2] ? { count: Number(m[4]) } : { value: Number(m[4]) };
        }
        return undefined;
      },
      logs: async () =>
        [...host.stderr().matchAll(/^\[[^\]]*\]\[\d+\]\[(\w+)\]\[dynamic_modules\] (.*)$/gm)].map((m) => ({
          level: LEVEL[m[1]] ?? m[1],
          message: m[2],
        })),
    });
  });
}
