// The shared scenario suite: each scenario is data (a filter of test/js/scenario-filters.cjs, its
// config, a request, what the upstream and clusters do, and what must come of it), checked by the same
// `checkScenario` in two runners:
//   test/testkit.scenarios.test.mjs   nodevoy/testing (plain Node, fake Envoy stream)
//   test/runtime.scenarios.test.mjs   libnodevoy.so in the ABI host, real HTTP, real upstreams
// The two must agree. Where they legitimately differ (addresses, framing headers, echo bodies that
// contain them), a scenario says only what both must show (a RegExp, or a `check` function).
//
// Scenario fields:
//   name, filter (export name), config, routeConfig (per-route override), bufferLimit
//   policy:   filter_config's failure_mode, failure_status, sync_budget_ms, async_budget_ms, js_time_histogram
//             (Envoy's names)
//   request:  { method, path, headers, body (string | chunks array), trailers }
//   upstream: (req) => { status, headers, body (string | chunks array), trailers }   default: echo JSON
//             req: { method, path, headers, body, trailers } as the upstream received it
//   clusters: { name: (request: Request) => Response | Promise<Response> } for ctx.fetch
//   expect:
//     upstream:  null (no complete request reached the upstream) | { method, path, headers, body, trailers }
//     response:  { status, headers, body, trailers }          (not checked when reset is expected)
//     reset:     boolean (default false)
//     metrics:   [{ name, labels, value } | { name, labels, count }]   name: "<filter_name>.<metric>"
//     logs:      [{ level, match: RegExp }]   noLogs: [RegExp]
//   check(t, observed): extra assertions on the observed outcome
// Expected values: a string/number (equal), a RegExp (match), null (absent), or a predicate function.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const filtersPath = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'js',
  'scenario-filters.cjs',
);

const FAILED_BODY = 'nodevoy: the filter failed to process this request\n';
const FETCH_POLICY = { sync_budget_ms: 5000 };

export const scenarios = [
  {
    name: 'sync header rewrite in both directions',
    filter: 'headerRewrite',
    config: { tag: 'v1' },
    request: { method: 'GET', path: '/things?id=7', headers: { 'x-remove-me': 'bye', 'x-multi': 'one' } },
    expect: {
      upstream: {
        method: 'GET',
        path: '/things?id=7',
        headers: { 'x-added': 'v1:GET:/things?id=7', 'x-multi': 'one, two', 'x-remove-me': null },
      },
      response: {
        status: 200,
        headers: { 'x-response-added': '200', 'content-type': null },
        body: /"x-added":"v1:GET:\/things\?id=7"/,
      },
      metrics: [{ name: 'headerRewrite.nodevoy.requests', value: 1 }],
    },
  },
  {
    name: 'async headers handlers awaiting timers (the body waits behind the parked handler)',
    filter: 'asyncTimer',
    request: { method: 'POST', path: '/slow', body: 'payload' },
    expect: {
      upstream: { method: 'POST', body: 'payload', headers: { 'x-waited': 'true', 'content-length': '7' } },
      response: { status: 200, headers: { 'x-async-response': 'yes' } },
    },
  },
  {
    name: 'whole request body read and replaced; content-length follows',
    filter: 'wholeBody',
    request: { method: 'POST', path: '/w', body: 'abc', headers: { 'x-op': 'replace' } },
    expect: {
      upstream: { body: '{"wrapped":"abc"}', headers: { 'content-length': '17', 'x-body-length': '3' } },
      response: { status: 200 },
    },
  },
  {
    name: 'whole chunked request body read and appended to',
    filter: 'wholeBody',
    request: { method: 'POST', path: '/w', body: ['part1-', 'part2'], headers: { 'x-op': 'append' } },
    expect: {
      upstream: { body: 'part1-part2+tail', headers: { 'x-body-length': '11' } },
      response: { status: 200 },
    },
  },
  {
    name: 'request body over the buffer limit while a handler awaits it: 413',
    filter: 'wholeBody',
    bufferLimit: 1024,
    request: {
      method: 'POST',
      path: '/big',
      body: ['y'.repeat(800), 'y'.repeat(800), 'y'.repeat(800)],
      headers: { 'x-op': 'none' },
    },
    expect: {
      upstream: null,
      response: { status: 413, body: 'Payload Too Large' },
    },
  },
  {
    name: 'chunk handlers transform both bodies as they stream',
    filter: 'chunkUpper',
    request: { method: 'POST', path: '/up', body: ['hello ', 'body'] },
    upstream: (req) => ({ status: 200, headers: { 'x-seen': req.body }, body: ['hello ', 'world'] }),
    expect: {
      upstream: { body: 'HELLO BODY' },
      response: { status: 200, headers: { 'x-seen': 'HELLO BODY' }, body: 'HELLO WORLD' },
    },
  },
  {
    name: 'the end of a body is an empty last chunk (HTTP/1.1), in both directions',
    filter: 'endMarker',
    request: { method: 'POST', path: '/end', body: 'whole body' },
    upstream: (req) => ({ status: 200, headers: { 'x-seen': req.body }, body: 'response' }),
    expect: {
      upstream: { body: 'whole body<end:0>', headers: { 'content-length': null } },
      response: {
        status: 200,
        headers: { 'x-seen': 'whole body<end:0>', 'content-length': null },
        body: 'response<end:0>',
      },
    },
  },
  {
    name: "headers iterate as web Headers do; raw() keeps Envoy's pairs and pseudo-headers",
    filter: 'headerIteration',
    request: {
      method: 'GET',
      path: '/it',
      headers: { 'x-it-b': 'it:2', 'x-it-a': 'it:1', 'x-it-dup': ['it:one', 'it:two'] },
    },
    upstream: () => ({ status: 200, headers: { 'set-cookie': ['a=1', 'b=2'], 'x-it-z': 'it:z' }, body: 'ok' }),
    expect: {
      upstream: {
        headers: {
          'x-iteration': JSON.stringify({
            entries: [
              ['x-it-a', 'it:1'],
              ['x-it-b', 'it:2'],
              ['x-it-dup', 'it:one, it:two'],
            ],
            keys: ['x-it-a', 'x-it-b', 'x-it-dup'],
            values: ['it:1', 'it:2', 'it:one, it:two'],
            forEach: 3,
            pseudo: false,
            rawPseudo: [':authority', ':method', ':path', ':scheme'],
            rawDup: ['it:one', 'it:two'],
          }),
        },
      },
      response: {
        status: 200,
        headers: {
          'x-iteration': JSON.stringify({
            entries: [
              ['set-cookie', 'a=1'],
              ['set-cookie', 'b=2'],
              ['x-it-z', 'it:z'],
            ],
            keys: ['x-it-z'],
            values: ['it:z'],
            forEach: 1,
            pseudo: false,
            rawPseudo: [':status'],
            rawDup: [],
          }),
        },
      },
    },
  },
  {
    name: 'trailers edited in both directions',
    filter: 'trailers',
    request: { method: 'POST', path: '/t', body: ['a', 'b'], trailers: { 'x-client-trailer': 'v1' } },
    upstream: () => ({ status: 200, body: ['hello ', 'world'], trailers: { 'x-up-trailer': 't' } }),
    expect: {
      upstream: { body: 'ab', trailers: { 'x-client-trailer': 'seen:v1', 'x-filter-trailer': 'added' } },
      response: { status: 200, body: 'hello world', trailers: { 'x-up-trailer': 't+js' } },
    },
  },
  {
    name: 'local reply from the request headers handler',
    filter: 'gate',
    request: { method: 'GET', path: '/private', headers: { 'x-deny': 'no-entry' } },
    expect: {
      upstream: null,
      response: {
        status: 403,
        body: 'denied: no-entry',
        headers: { 'x-denied-by': 'gate', 'content-type': 'text/plain', 'content-length': '16' },
      },
    },
  },
  {
    name: 'local reply from a request body chunk',
    filter: 'gate',
    request: { method: 'POST', path: '/post', body: 'a forbidden word' },
    expect: {
      upstream: null,
      response: { status: 422, body: 'forbidden word in body' },
    },
  },
  {
    name: 'a body the gate lets through',
    filter: 'gate',
    request: { method: 'POST', path: '/post', body: ['fine ', 'words'] },
    expect: {
      upstream: { body: 'fine words' },
      response: { status: 200 },
    },
  },
  {
    name: 'response status rewritten after reading the whole response body',
    filter: 'responseInspect',
    request: { method: 'POST', path: '/inspect', body: 'x' },
    expect: {
      upstream: { body: 'x' },
      response: { status: 299, headers: { 'x-response-length': /^\d+$/ } },
    },
    check(t, observed) {
      t.equal(
        Number(observed.response.headers['x-response-length']),
        observed.response.body.length,
        'the handler saw the whole response body',
      );
    },
  },
  {
    name: 'a local reply replaces a buffered response',
    filter: 'responseInspect',
    request: { method: 'GET', path: '/inspect' },
    upstream: () => ({ status: 200, body: ['this will ', 'fail'] }),
    expect: {
      response: { status: 502, body: 'upstream said fail', headers: { 'x-replaced': 'yes' } },
    },
  },
  {
    name: 'per-route config merged over the filter config',
    filter: 'routed',
    config: { tag: 'base', limit: 5 },
    routeConfig: { tag: 'route-a' },
    request: { path: '/a/x' },
    expect: {
      upstream: { headers: { 'x-tag': 'route-a', 'x-limit': '5' } },
      response: { status: 200 },
    },
  },
  {
    name: 'filter config defaults from its schema',
    filter: 'routed',
    config: { tag: 'only-tag' },
    request: { path: '/b' },
    expect: {
      upstream: { headers: { 'x-tag': 'only-tag', 'x-limit': '10' } },
    },
  },
  {
    name: "declared metrics and nodevoy's own",
    filter: 'metered',
    policy: { js_time_histogram: true },
    request: { method: 'POST', path: '/m', body: 'x' },
    expect: {
      response: { status: 200 },
      metrics: [
        { name: 'metered.hits', labels: { method: 'POST' }, value: 1 },
        { name: 'metered.inflight', value: 3 },
        { name: 'metered.sizes', count: 1 },
        { name: 'metered.nodevoy.requests', value: 1 },
        { name: 'metered.nodevoy.js_time_us', labels: { phase: 'request_headers' }, count: 1 },
      ],
    },
  },
  {
    name: 'dynamic metadata, filter state and attributes round trip',
    filter: 'metadata',
    request: { method: 'GET', path: '/meta', headers: { 'x-request-id': 'rid-1' } },
    expect: {
      upstream: { headers: { 'x-attr': 'GET /meta rid-1', 'x-attr-source': /^127\.0\.0\.1:\d+$/ } },
      response: {
        status: 200,
        headers: {
          'x-meta': 'alice,42.5,true,undefined',
          'x-meta-types': 'string,number,boolean',
          'x-state': 'kept',
          'x-attr-code': '200',
          'x-attr-source-port': 'number',
        },
      },
    },
  },
  // The first ctx.fetch on a worker loads undici (Request/Response) synchronously: ~30 ms on an idle
  // machine, past the default 100 ms sync budget on a loaded one. These scenarios test fetch, not that.
  {
    name: 'ctx.fetch to a cluster',
    filter: 'authFetch',
    policy: FETCH_POLICY,
    request: { path: '/x', headers: { 'x-user': 'alice' } },
    clusters: {
      auth: async (req) => {
        const url = new URL(req.url);
        const seen = {
          method: req.method,
          path: url.pathname + url.search,
          from: req.headers.get('x-from'),
          body: await req.text(),
        };
        return new Response(JSON.stringify(seen), {
          headers: { 'content-type': 'application/json', 'x-role': 'admin' },
        });
      },
    },
    expect: {
      upstream: { headers: { 'x-auth': 'POST /check?user=1 nodevoy ping', 'x-auth-role': 'admin' } },
      response: { status: 200 },
    },
  },
  {
    name: 'ctx.fetch: the cluster says no',
    filter: 'authFetch',
    policy: FETCH_POLICY,
    request: { path: '/x', headers: { 'x-user': 'mallory' } },
    clusters: { auth: () => new Response('nope', { status: 401 }) },
    expect: {
      upstream: null,
      response: { status: 403, body: 'auth said 401: nope' },
    },
  },
  {
    name: 'ctx.fetch to an unknown cluster is a FetchError',
    filter: 'authFetch',
    policy: FETCH_POLICY,
    request: { path: '/x', headers: { 'x-cluster': 'nope' } },
    clusters: { auth: () => new Response('{}') },
    expect: {
      upstream: null,
      response: {
        status: 504,
        body: /FetchError: ctx\.fetch to cluster "nope" failed: no such cluster/,
        headers: { 'x-fetch-error': 'true' },
      },
    },
  },
  {
    name: "ctx.fetch past its timeout gets Envoy's 504",
    filter: 'authFetch',
    policy: FETCH_POLICY,
    request: { path: '/x', headers: { 'x-timeout': '100' } },
    clusters: { auth: () => new Promise(() => {}) },
    expect: {
      upstream: null,
      response: { status: 403, body: 'auth said 504: upstream request timeout' },
    },
  },
  {
    name: 'a throwing handler ends in a 500 and nodevoy.errors',
    filter: 'throws',
    request: { path: '/boom', headers: { 'x-throw': '1' } },
    expect: {
      upstream: null,
      response: { status: 500, body: FAILED_BODY },
      metrics: [{ name: 'throws.nodevoy.errors', labels: { kind: 'handler' }, value: 1 }],
      logs: [
        {
          level: 'error',
          match: /\[nodevoy\]\[throws\]\[\d+\] onRequestHeaders handler threw: Error: boom in request headers/,
        },
      ],
    },
  },
  {
    name: 'a rejecting response handler: the 500 replaces the held response',
    filter: 'throws',
    request: { path: '/reject' },
    upstream: () => ({ status: 200, headers: { 'x-reject': '1' }, body: 'upstream body' }),
    expect: {
      upstream: { path: '/reject' },
      response: { status: 500, body: FAILED_BODY },
      metrics: [{ name: 'throws.nodevoy.errors', labels: { kind: 'handler' }, value: 1 }],
      logs: [
        { level: 'error', match: /onResponseHeaders handler rejected: TypeError: async boom in response headers/ },
      ],
    },
  },
  {
    name: 'a reply after the response headers went resets the stream',
    filter: 'lateReply',
    request: { path: '/late' },
    upstream: () => ({ status: 200, body: ['partial-', 'body'] }),
    expect: {
      reset: true,
      logs: [
        {
          level: 'error',
          match: /filter "lateReply" answered after the response headers were sent; resetting the stream/,
        },
      ],
    },
  },
  {
    name: 'a returned Response replies: status, headers, body',
    filter: 'returns',
    request: { path: '/r', headers: { 'x-return': 'response' } },
    expect: {
      upstream: null,
      response: { status: 401, headers: { 'x-why': 'token', 'content-type': 'text/x-nope' }, body: 'nope' },
      noLogs: [/handler returned/],
    },
  },
  {
    name: 'a Response resolved by an async handler replies, its streamed body read whole',
    filter: 'returns',
    request: { path: '/r', headers: { 'x-return': 'streamed' } },
    expect: {
      upstream: null,
      response: { status: 429, headers: { 'retry-after': '7' }, body: 'part1,part2' },
    },
  },
  {
    name: 'a Response from the response headers handler replaces the upstream response',
    filter: 'returns',
    request: { path: '/r' },
    upstream: () => ({ status: 200, headers: { 'x-return': 'response' }, body: 'from upstream' }),
    expect: {
      response: { status: 502, body: 'replaced' },
    },
  },
  {
    name: 'a returned object is not a reply: the stream fails closed, naming what came back',
    filter: 'returns',
    request: { path: '/r', headers: { 'x-return': 'object' } },
    expect: {
      upstream: null,
      response: { status: 500, body: FAILED_BODY },
      metrics: [{ name: 'returns.nodevoy.errors', labels: { kind: 'handler' }, value: 1 }],
      logs: [
        {
          level: 'error',
          match:
            /\[nodevoy\]\[returns\]\[\d+\] onRequestHeaders handler resolved to: TypeError: onRequestHeaders handler resolved to an object \{"status":401\}/,
        },
      ],
    },
  },
  {
    name: 'a returned string fails with the configured failure_status',
    filter: 'returns',
    policy: { failure_status: 403 },
    request: { path: '/r', headers: { 'x-return': 'string' } },
    expect: {
      upstream: null,
      response: { status: 403, body: FAILED_BODY },
      logs: [{ level: 'error', match: /onRequestHeaders handler resolved to a string \("done"\)/ }],
    },
  },
  {
    name: "a number from the response headers handler fails the stream (500, not the upstream's 200)",
    filter: 'returns',
    request: { path: '/r' },
    upstream: () => ({ status: 200, headers: { 'x-return': 'number' }, body: 'from upstream' }),
    expect: {
      response: { status: 500, body: FAILED_BODY },
      logs: [{ level: 'error', match: /onResponseHeaders handler returned a number \(42\)/ }],
    },
  },
  {
    name: 'a returned Response over 1 MiB fails the stream',
    filter: 'returns',
    request: { path: '/r', headers: { 'x-return': 'huge' } },
    expect: {
      upstream: null,
      response: { status: 500, body: FAILED_BODY },
      logs: [{ level: 'error', match: /over 1048576 bytes/ }],
    },
  },
  {
    name: 'failure_status: the status of the failure reply',
    filter: 'throws',
    policy: { failure_status: 503 },
    request: { path: '/boom', headers: { 'x-throw': '1' } },
    expect: {
      upstream: null,
      response: { status: 503, body: FAILED_BODY },
    },
  },
  {
    name: 'fail_open: a throwing handler lets the request through, counted',
    filter: 'throws',
    policy: { failure_mode: 'fail_open' },
    request: { path: '/boom', headers: { 'x-throw': '1' } },
    expect: {
      upstream: { path: '/boom' },
      response: { status: 200 },
      metrics: [{ name: 'throws.nodevoy.errors', labels: { kind: 'handler' }, value: 1 }],
    },
  },
  {
    name: 'async_budget_ms: a handler that does not settle in time gets a 504',
    filter: 'stall',
    policy: { async_budget_ms: 50 },
    request: { path: '/stall' },
    expect: {
      upstream: null,
      response: { status: 504, body: 'nodevoy: the filter did not finish in time\n' },
      metrics: [{ name: 'stall.nodevoy.errors', labels: { kind: 'timeout' }, value: 1 }],
      logs: [{ level: 'error', match: /onRequestHeaders handler did not settle within 50 ms; abandoned/ }],
    },
  },
  {
    name: 'log lines at their levels',
    filter: 'logs',
    request: { path: '/logged' },
    expect: {
      upstream: { headers: { 'x-debug-enabled': 'false' } },
      logs: [
        { level: 'info', match: /^\[nodevoy\]\[logs\]\[\d+\] info-line \/logged$/ },
        { level: 'warn', match: /warn-line/ },
      ],
      noLogs: [/debug-line/],
    },
  },
];

// ---- checking ----

function expectValue(t, actual, expected, what) {
  if (expected === null) t.equal(actual, undefined, `${what} is absent`);
  else if (expected instanceof RegExp) t.match(actual ?? '', expected, what);
  else if (typeof expected === 'function') t.ok(expected(actual), `${what}: ${JSON.stringify(actual)}`);
  else t.equal(actual, expected, what);
}

function expectFields(t, actual, expected, what) {
  for (const [k, v] of Object.entries(expected ?? {})) expectValue(t, actual?.[k], v, `${what} ${k}`);
}

/** Whether two label sets are the same. */
export const sameLabels = (a = {}, b = {}) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v);

/** Polls an async probe until it returns truthy (metrics and logs reach the host's admin and log a moment later). */
async function eventually(probe, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Checks one scenario's expectations against what a runner observed:
 *   { upstream?: {method, path, headers, body, trailers, complete}, response?: {status, headers, body, trailers},
 *     reset: boolean,
 *     metric(name, labels): Promise<{value} | {count} | undefined>   (a counter/gauge value, a histogram's sample count)
 *     logs(): Promise<[{level, message}]> }
 */
export async function checkScenario(t, scenario, observed) {
  const e = scenario.expect;
  t.equal(observed.reset, e.reset ?? false, e.reset ? 'the stream was reset' : 'the stream was not reset');
  if (e.upstream === null) {
    t.notOk(observed.upstream?.complete, 'no complete request reached the upstream');
  } else if (e.upstream) {
    t.ok(observed.upstream?.complete, 'the whole request reached the upstream');
    const { headers, trailers, ...rest } = e.upstream;
    expectFields(t, observed.upstream, rest, 'upstream');
    expectFields(t, observed.upstream?.headers, headers, 'upstream header');
    expectFields(t, observed.upstream?.trailers, trailers, 'upstream trailer');
  }
  if (e.response && !e.reset) {
    const { headers, trailers, ...rest } = e.response;
    t.ok(observed.response, 'the client got a response');
    expectFields(t, observed.response, rest, 'response');
    expectFields(t, observed.response?.headers, headers, 'response header');
    expectFields(t, observed.response?.trailers, trailers, 'response trailer');
  }
  for (const m of e.metrics ?? []) {
    const want = (s) => s && ('value' in m ? s.value === m.value : s.count === m.count);
    const found = await eventually(async () => want(await observed.metric(m.name, m.labels ?? {})));
    const seen = found ? undefined : await observed.metric(m.name, m.labels ?? {});
    t.ok(
      found,
      `metric ${m.name}${JSON.stringify(m.labels ?? {})} ${'value' in m ? `= ${m.value}` : `has ${m.count} sample(s)`}${
        found ? '' : ` (have: ${JSON.stringify(seen)})`
      }`,
    );
  }
  for (const l of e.logs ?? []) {
    const found = await eventually(async () =>
      (await observed.logs()).find((x) => x.level === l.level && l.match.test(x.message)),
    );
    t.ok(found, `a ${l.level} log line matches ${l.match}`);
  }
  if (e.noLogs) {
    const logs = await observed.logs();
    for (const re of e.noLogs)
      t.notOk(
        logs.some((x) => re.test(x.message)),
        `no log line matches ${re}`,
      );
  }
  if (scenario.check) await scenario.check(t, observed);
}
