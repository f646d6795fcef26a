// Differential conformance: the same config, module and requests through nodevoy-host and through the
// real Envoy of this pass (NODEVOY_PROXY=envoy@<version>); what the client, the upstream and the module
// observe must be the same. Values that change from run to run (dates, request ids, ports) are masked;
// every other difference is either fixed in the host or listed in docs/envoy.md with its reason, and
// masked here by name in ON_PURPOSE (the same list).
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import {
  adminGet,
  freePort,
  hostConfig,
  onEnvoy,
  proxy,
  proxyNamed,
  rawRequest,
  repoRoot,
  sleep,
  startHost,
  startUpstream,
} from './lib/harness.mjs';

const bundle = path.join(repoRoot, 'test', 'js', 'conformance-filters.cjs');
const js = (filterName, extra = {}) => ({ module: 'nodevoy', filterName, config: { module: bundle, ...extra } });
const fx = (filterName, config = {}) => ({ module: 'fixture', filterName, config });

// Headers only one side sets, kept on purpose (docs/envoy.md, "differs on purpose").
const ON_PURPOSE = {
  response: [],
  upstream: [],
};

// Differences between the Envoy versions themselves, not the host's: the host follows the newest
// supported Envoy, and these are masked only on the older one, each with its reason.
const VERSION_DIFFERENCES = /^envoy@1\.39\./.test(proxy.label ?? '')
  ? [
      // 1.39 has no xds.cluster_name / xds.virtual_host_name attributes for HTTP filters; 1.40 added them.
      ['x-attr-xds-cluster_name', 'x-attr-xds-virtual_host_name'],
    ].flat()
  : [];

/** Replaces the value of each header named in VERSION_DIFFERENCES in a client view. */
function maskVersionDifferences(view) {
  for (const v of Object.values(view)) {
    if (v && Array.isArray(v.headers)) {
      v.headers = v.headers.map(([k, x]) => [
        k,
        VERSION_DIFFERENCES.includes(k) ? `<differs between Envoy versions>` : x,
      ]);
    }
  }
  return view;
}

// Masks what changes between runs: dates, uuids, ports, durations.
function mask(v) {
  if (typeof v === 'string') {
    return (
      v
        .replace(/[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT/g, '<date>')
        .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
        .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>')
        // the router's measure of the upstream's time, also inside JSON a filter reported
        .replace(/(x-envoy-upstream-service-time(?:\\*")*,(?:\\*")*)\d+/g, '$1<ms>')
    );
  }
  if (Array.isArray(v)) return v.map(mask);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mask(x)]));
  return v;
}

/** Header lines of a raw HTTP/1.1 message head, lower-cased names, duplicates kept, sorted. */
function headLines(raw, drop = []) {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
  return head
    .split('\r\n')
    .slice(1)
    .map((l) => {
      const i = l.indexOf(':');
      const name = l.slice(0, i).toLowerCase();
      return [name, name === 'x-envoy-upstream-service-time' ? '<ms>' : l.slice(i + 1).trim()];
    })
    .filter(([k]) => !drop.includes(k))
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** What the client saw: status line, header lines, body, trailers (or the way the connection ended). */
function clientView(r) {
  if (r.status === undefined) return { ended: r.closed ? 'closed without a response' : r.error };
  return { status: r.status, headers: headLines(r.raw, ON_PURPOSE.response), body: r.body, trailers: r.trailers };
}

/** What the upstream saw for its last request: raw header lines, body and trailers. */
function upstreamView(up, since) {
  const recs = up.requests.slice(since);
  return recs.map((r) => ({
    method: r.method,
    path: r.path,
    body: r.body,
    trailers: r.trailers,
    headers: (r.raw ?? Object.entries(r.headers))
      .map(([k, v]) => [k.toLowerCase(), v])
      .filter(([k]) => !ON_PURPOSE.upstream.includes(k))
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
  }));
}

// The upstream: echoes the request summary; a few paths answer with what a case needs.
function upstreamHandler(req, res, record) {
  const raw = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) raw.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
  record.raw = raw;
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/dups') {
    res.writeHead(200, [
      ['content-type', 'text/plain'],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
      ['x-up-dup', 'one'],
      ['x-up-dup', 'two'],
      ['x-up-empty', ''],
    ]);
    res.end('dups');
    return;
  }
  if (url.pathname === '/big-response') {
    const n = Number(url.searchParams.get('n'));
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(n), 'x-read-response': '1' });
    res.end(Buffer.alloc(n, 'b'));
    return;
  }
  if (url.pathname === '/continue') {
    res.writeContinue();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('after continue');
    return;
  }
  if (url.pathname === '/slow') {
    setTimeout(
      () => {
        if (!res.destroyed) {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('slow');
        }
      },
      Number(url.searchParams.get('ms')),
    );
    return;
  }
  if (url.pathname === '/hop') {
    res.writeHead(200, [
      ['content-type', 'text/plain'],
      ['keep-alive', 'timeout=5'],
      ['proxy-connection', 'x'],
      ['upgrade', 'foo'],
      ['te', 'trailers'],
      ['x-envoy-up', '1'],
      ['server', 'node'],
    ]);
    res.end('hop');
    return;
  }
  if (url.pathname === '/reset') {
    req.socket.destroy();
    return;
  }
  if (url.pathname === '/status') {
    res.writeHead(Number(url.searchParams.get('s')), { 'content-type': 'text/plain' });
    res.end('status body');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'x-up': 'yes' });
  res.end(`upstream saw ${req.method} ${req.url} with ${record.body.length} body bytes`);
}

/** Runs `drive` against the given proxy with a fresh upstream and the case's config. */
async function observe(which, setup, drive) {
  const up = await startUpstream(upstreamHandler);
  const clusters = { upstream: up.port };
  for (const [name, kind] of Object.entries(setup.clusters ?? {}))
    clusters[name] = kind === 'closed' ? await freePort() : up.port;
  const port = await freePort();
  const adminPort = await freePort();
  const yaml = hostConfig({
    port,
    adminPort,
    filters: setup.filters,
    clusters,
    routes: setup.routes,
    bufferLimit: setup.bufferLimit,
  });
  const proc = await startHost(yaml, { proxy: which, concurrency: 1 });
  try {
    const out = await drive({ port, adminPort, up });
    if (setup.logs) {
      await sleep(100);
      out.logs = proc
        .stderr()
        .split('\n')
        .filter((l) => setup.logs.test(l))
        .map((l) => l.replace(/^(\[[^\]]*\]){4} ?/, ''));
    }
    return mask(out);
  } finally {
    try {
      await proc.stopClean();
    } finally {
      await up.close();
    }
  }
}

const host = proxyNamed('host');

/** One row of the table: the same setup and requests on the host and on Envoy; the views must match. */
function same(name, setup, drive) {
  t.test(name, async (t) => {
    if (!onEnvoy) {
      t.pass('differential: runs on the envoy passes (NODEVOY_PROXY=envoy@<version>), host beside Envoy');
      return;
    }
    const onHost = maskVersionDifferences(await observe(host, setup, drive));
    const onReal = maskVersionDifferences(await observe(proxy, setup, drive));
    if (process.env.NODEVOY_CONFORMANCE_DUMP) {
      const file = path.join(process.env.NODEVOY_CONFORMANCE_DUMP, `${name.replace(/[^a-z0-9]+/gi, '-')}.json`);
      fs.writeFileSync(file, JSON.stringify({ host: onHost, [proxy.label]: onReal }, null, 1));
    }
    for (const key of Object.keys(onReal)) t.same(onHost[key], onReal[key], `${key}: host = ${proxy.label}`);
  });
}

const GET = (p, extra = '') => `GET ${p} HTTP/1.1\r\nhost: conformance\r\n${extra}\r\n`;

/** Sends each raw request on a fresh connection; returns the client's and the upstream's views. */
const exchange =
  (...raws) =>
  async ({ port, up }) => {
    const out = {};
    for (const [i, raw] of raws.entries()) {
      const since = up.requests.length;
      out[`client ${i}`] = clientView(await rawRequest(port, raw));
      await sleep(20);
      out[`upstream ${i}`] = upstreamView(up, since);
    }
    return out;
  };

const dupRequest = GET('/dups', 'x-dup: 1\r\nx-dup: 2\r\nx-empty:\r\nx-case: MiXeD\r\n');

same(
  'statuses, duplicate and empty headers through the native fixture',
  { filters: [fx('passthrough')] },
  exchange(dupRequest, GET('/status?s=404'), GET('/status?s=503'), GET('/status?s=204')),
);

same(
  'a JS filter: the headers it sees, empty values and duplicates it writes',
  { filters: [js('reporter')] },
  exchange(dupRequest, GET('/plain?q=1')),
);

same(
  'bodies: content-length and chunked request bodies read whole by JS',
  { filters: [js('wholeBodies')] },
  exchange(`POST /cl HTTP/1.1\r\nhost: c\r\ncontent-type: text/plain\r\ncontent-length: 11\r\n\r\nhello world`, [
    `POST /chunked HTTP/1.1\r\nhost: c\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n`,
    `6\r\n world\r\n0\r\n\r\n`,
  ]),
);

same(
  'trailers both ways through a JS filter',
  { filters: [js('reporter')] },
  exchange([
    `POST /chunked-trailers HTTP/1.1\r\nhost: c\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n`,
    `0\r\nx-client-trailer: v\r\n\r\n`,
  ]),
);

same(
  'local replies from each JS phase',
  { filters: [js('replier')] },
  exchange(
    GET('/r', 'x-reply-phase: request_headers\r\n'),
    [`POST /r HTTP/1.1\r\nhost: c\r\nx-reply-phase: request_body\r\ncontent-length: 4\r\n\r\n`, 'body'],
    [
      `POST /r HTTP/1.1\r\nhost: c\r\nx-reply-phase: request_trailers\r\ntransfer-encoding: chunked\r\n\r\n1\r\nx\r\n`,
      `0\r\nx-t: 1\r\n\r\n`,
    ],
    GET('/r', 'x-reply-phase: response_headers\r\n'),
    GET('/r', 'x-reply-phase: response_body\r\n'),
  ),
);

same(
  'local replies from each native phase',
  {
    filters: [
      fx('local_reply', { status: 403, body: 'denied', headers: { 'x-why': 'fixture' }, phase: 'request_headers' }),
    ],
  },
  exchange(GET('/n')),
);

same(
  'local reply from the native response headers hook',
  {
    filters: [fx('local_reply', { status: 502, body: 'bad upstream', phase: 'response_headers' })],
  },
  exchange(GET('/n')),
);

same(
  'buffer limits: 413 for a request body, 500 for a response body over the limit',
  { filters: [js('wholeBodies')], bufferLimit: 1024 },
  exchange(
    `POST /big HTTP/1.1\r\nhost: c\r\ncontent-length: 4096\r\n\r\n${'a'.repeat(4096)}`,
    GET('/big-response?n=4096'),
    GET('/big-response?n=512'),
  ),
);

same(
  'per-route configs reach the module',
  {
    filters: [fx('per_route')],
    routes: [
      { prefix: '/special', perFilter: { per_route: { perRouteName: 'per_route', config: { tier: 'gold' } } } },
      { prefix: '/' },
    ],
  },
  exchange(GET('/special'), GET('/other')),
);

same(
  'callouts: to a cluster, a missing cluster and an unreachable one',
  { filters: [js('fetcher')], clusters: { closed: 'closed' } },
  exchange(
    GET('/f', 'x-cluster: upstream\r\n'),
    GET('/f', 'x-cluster: nosuch\r\n'),
    GET('/f', 'x-cluster: closed\r\n'),
  ),
);

same(
  'attributes and metadata seen by JS and native filters',
  { filters: [js('attributes'), fx('attributes')] },
  exchange(GET('/attrs?x=1')),
);

same(
  'metric names and values on /stats and /stats/prometheus',
  { filters: [fx('metrics'), js('reporter', { js_time_histogram: true })] },
  async (io) => {
    await exchange(GET('/m1'), `POST /m2 HTTP/1.1\r\nhost: c\r\ncontent-length: 2\r\n\r\nhi`)(io);
    await sleep(700); // past one stats flush (hostConfig sets 0.5 s): histograms show their samples
    const ours = (line) => /fixture|nodevoy|dynamicmodulescustom/.test(line);
    // js_time_us holds measured times: its names, labels and bucket bounds are compared, its values not.
    const timing = (line) =>
      /js_time_us/.test(line) ? line.replace(/(\d+(\.\d+)?(e[+-]?\d+)?)(?=[,)]|$)/g, '<t>') : line;
    // /stats prints P<q>(interval,cumulative); the interval depends on where the flushes fell: compare cumulative.
    const cumulative = (line) => line.replace(/\(([^,()]*),/g, '(·,');
    const stats = (await adminGet(io.adminPort, '/stats')).split('\n').filter(ours).map(timing).map(cumulative).sort();
    const prom = (await adminGet(io.adminPort, '/stats/prometheus')).split('\n').filter(ours).map(timing).sort();
    return { stats, prometheus: prom };
  },
);

// JSON with control characters escaped, so the request line stays valid HTTP
const wireJson = (v) =>
  JSON.stringify(v).replace(/[\x00-\x1f\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const ops = (req, res = []) => `x-ops-req: ${wireJson(req)}\r\nx-ops-res: ${wireJson(res)}\r\n`;

same(
  'empty values written by a module: return values, read-back and the wire',
  { filters: [js('writer')] },
  exchange(
    GET(
      '/e',
      `x-case: MiXeD\r\nx-dup: 1\r\n${ops(
        [
          ['set', 'x-set-empty', ''],
          ['get', 'x-set-empty'],
          ['has', 'x-set-empty'],
          ['add', 'x-add-empty', ''],
          ['getAll', 'x-add-empty'],
          ['set', 'x-case', ''],
          ['getAll', 'x-case'],
          ['add', 'x-dup', ''],
          ['getAll', 'x-dup'],
          ['set', 'x-after', 'v'],
        ],
        [
          ['set', 'x-set-empty', ''],
          ['has', 'x-set-empty'],
          ['add', 'x-add-empty', ''],
          ['getAll', 'x-add-empty'],
          ['set', 'content-type', ''],
          ['getAll', 'content-type'],
          ['add', 'x-up', ''],
          ['getAll', 'x-up'],
          ['set', 'x-after', 'v'],
        ],
      )}`,
    ),
  ),
);

same(
  'hop-by-hop and proxy headers from the client and the upstream',
  { filters: [js('reporter')] },
  exchange(
    GET(
      '/hop',
      'connection: keep-alive\r\nkeep-alive: timeout=5\r\nproxy-connection: x\r\nte: trailers\r\nx-forwarded-proto: https\r\nx-request-id: given-id\r\nx-envoy-internal: true\r\nx-envoy-foo: 1\r\nx-forwarded-for: 10.0.0.1\r\n',
    ),
    GET('/hop', 'te: gzip\r\nhost: second-host\r\n'),
  ),
);

same(
  'hop-by-hop and framing headers written by a module',
  { filters: [js('writer')] },
  exchange(
    GET(
      '/h',
      ops(
        [
          ['set', 'connection', 'close'],
          ['set', 'keep-alive', 'timeout=1'],
          ['set', 'upgrade', 'foo'],
          ['set', 'te', 'trailers'],
          ['set', 'proxy-connection', 'x'],
        ],
        [
          ['set', 'connection', 'close'],
          ['set', 'keep-alive', 'timeout=1'],
          ['set', 'upgrade', 'foo'],
          ['set', 'proxy-connection', 'x'],
          ['set', 'x-envoy-upstream-service-time', '77'],
          ['set', 'server', 'mine'],
          ['set', 'date', 'today'],
        ],
      ),
    ),
  ),
);

same(
  'inline headers: a second value written by a module',
  { filters: [js('writer')] },
  exchange(
    GET(
      '/i',
      `content-type: text/plain\r\naccept: a\r\nuser-agent: u\r\n${ops(
        [
          ['add', 'content-type', 'x'],
          ['add', 'accept', 'b'],
          ['add', 'user-agent', 'v'],
          ['add', 'x-plain', '1'],
          ['add', 'x-plain', '2'],
          ['add', 'cache-control', 'a'],
          ['add', 'cache-control', 'b'],
          ['add', 'authorization', 'p'],
          ['add', 'authorization', 'q'],
        ],
        [
          ['add', 'content-type', 'x'],
          ['add', 'cache-control', 'a'],
          ['add', 'cache-control', 'b'],
          ['add', 'location', '/a'],
          ['add', 'location', '/b'],
          ['add', 'etag', 'e1'],
          ['add', 'etag', 'e2'],
          ['add', 'x-up', 'again'],
        ],
      )}`,
    ),
  ),
);

same(
  'host and :authority: get, has, set and delete of host',
  { filters: [js('writer')] },
  exchange(
    GET(
      '/a',
      ops(
        [
          ['get', 'host'],
          ['has', 'host'],
          ['getAll', 'host'],
          ['get', ':authority'],
          ['set', 'host', 'other'],
          ['get', ':authority'],
          ['getAll', 'host'],
        ],
        [['has', 'host']],
      ),
    ),
    GET(
      '/a',
      ops([
        ['add', 'host', 'second'],
        ['getAll', ':authority'],
        ['getAll', 'host'],
      ]),
    ),
    GET(
      '/a',
      ops([
        ['remove', 'host'],
        ['has', ':authority'],
        ['has', 'host'],
      ]),
    ),
  ),
);

same(
  '100 Continue from the upstream',
  { filters: [js('reporter')] },
  exchange(GET('/continue'), `POST /continue HTTP/1.1\r\nhost: c\r\ncontent-length: 2\r\n\r\nhi`),
);

same(
  'route timeout and upstream reset: the reply and what filters see',
  {
    filters: [js('details'), fx('passthrough')],
    logs: /fixture local_reply/,
    routes: [{ prefix: '/slow', timeout: '0.3s' }, { prefix: '/' }],
  },
  exchange(GET('/slow?ms=2000'), GET('/reset')),
);

same(
  'control characters in header values written by a module',
  { filters: [js('writer'), fx('passthrough')], logs: /fixture local_reply/ },
  exchange(
    GET(
      '/c',
      ops([
        ['set', 'x-ctl', '\u0001a\u001f'],
        ['set', 'x-del', 'a\u007fb'],
        ['set', 'x-tab', 'a\tb'],
      ]),
    ),
    GET(
      '/c',
      ops(
        [],
        [
          ['set', 'x-ctl-res', '\u0001a'],
          ['set', 'x-tab-res', 'a\tb'],
        ],
      ),
    ),
  ),
);

same(
  'pseudo-headers written by a module: :authority and the like on the wire',
  { filters: [js('writer')] },
  exchange(
    GET(
      '/p',
      ops(
        [
          ['add', ':ascu', 'v1'],
          ['add', ':other', 'v2'],
        ],
        [
          ['add', ':authority', 'res-host'],
          ['add', ':path', '/x'],
          ['add', ':abc', 'z'],
        ],
      ),
    ),
  ),
);
