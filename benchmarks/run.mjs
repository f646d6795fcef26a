#!/usr/bin/env node
// nodevoy benchmarks: what a TypeScript filter costs, side by side with a native filter, no filter,
// and nginx (plain and with njs), all in one run. See benchmarks/README.md.
//
//   node benchmarks/run.mjs [--quick] [--rounds N] [--seconds S] [--warmup S] [--connections C]
//                           [--only REGEX] [--no-memory] [--no-micro] [--no-instructions] [--no-save]
//                           [--proxies envoy@1.40,host] [--workers 1,2]
//   node benchmarks/run.mjs --instructions-only [--merge-into benchmarks/results/<stamp>.json] [...]
//
// 1. End to end: every configuration is a proxy process (real Envoy 1.40 and nodevoy-host, each at every
//    --workers count, or nginx with 1 process) in front of the same fast upstream; Envoy's own Lua and
//    Wasm (V8) filters run the same work as peers; each is probed once through an echo upstream (so a
//    filter that does not do its job is reported as failed instead of measured), warmed up with wrk,
//    then measured in alternating rounds (each round visits every configuration; odd rounds in
//    reverse order). Per run: requests/s, p50/p99/p99.9 latency (wrk), the proxy's CPU µs/request
//    (/proc/<pid>/stat), RSS after load.
// 1b. Instructions per request: the Envoy rows (first proxy, first worker count) again, each under
//    callgrind (benchmarks/lib/instructions.mjs): the repeatable CPU figure, with the same ratios.
// 2. Price list: in-process loops (the `micro` bench filter) and differences between configurations.
// 3. Memory: RSS of a 1-worker host with and without a JS filter; route tables of 1/100/10,000 routes
//    with and without per-route configs.
// 4. Report: benchmarks/results/<stamp>-<mode>.{md,json,svg} and latest.md.
// A configuration that cannot run is reported as "failed: <reason>" and the run goes on; with
// --quick the exit code is 1 if anything failed (CI runs `npm run bench -- --quick`).
import fs from 'node:fs';
import path from 'node:path';
import {
  freePort,
  hostConfig,
  startHost,
  startUpstream,
  request,
  sleep,
  hostBinary,
  proxyNamed,
} from '../test/lib/harness.mjs';
import { LUA_MICRO_OPS, luaCallout, luaMicro, luaNoop, luaRewrite, wasmModule, wasmRewrite } from './peers.mjs';
import {
  here,
  cpuSeconds,
  rssKb,
  startNginx,
  startFastUpstream,
  nginxAvailable,
  njsAvailable,
  wrkScript,
  runWrk,
  machineInfo,
  versions,
} from './lib/procs.mjs';
import { markdown, stamp, writeReport } from './lib/report.mjs';
import { callgrindAvailable, countInstructions } from './lib/instructions.mjs';
import { PRICE_DIFFS } from './lib/prices.mjs';

// ------------------------------------------------------------------------------------------------
// options
// ------------------------------------------------------------------------------------------------

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
};
const quick = flag('quick');
const params = {
  rounds: Number(opt('rounds', quick ? 2 : 5)),
  seconds: Number(opt('seconds', quick ? 1 : 3)),
  warmupSeconds: Number(opt('warmup', quick ? 1 : 2)),
  connections: Number(opt('connections', 16)),
  microN: quick ? 20000 : 100000,
  microReps: quick ? 3 : 9,
  routeCounts: [1, 100, 10000],
  // callgrind: sequential keep-alive requests uncounted, then counted
  instrWarmup: quick ? 3000 : 4000,
  instrRequests: quick ? 500 : 1500,
};
const only = opt('only') ? new RegExp(opt('only'), 'i') : null;
// Proxies (real Envoy first; the test host's rows stay, labelled) and worker counts measured.
const proxies = opt('proxies', 'envoy@1.40,host')
  .split(',')
  .map((spec) => proxyNamed(spec));
const workerCounts = opt('workers', quick ? '1' : '1,2')
  .split(',')
  .map(Number);
const mainProxy = proxies[0];
const mode = quick ? 'quick' : 'full';
const started = Date.now();
const startedAt = new Date(started).toISOString().replace(/\.\d+Z$/, 'Z');
const say = (...a) => console.error('[bench]', ...a);

if (!fs.existsSync(wasmModule))
  say(`${wasmModule} is missing (benchmarks/build-wasm.sh builds it): the Wasm rows will fail`);
if (!fs.existsSync(hostBinary)) {
  console.error(`${hostBinary} is missing: run \`npm run build\` (or \`npm run bench\`, which builds) first`);
  process.exit(2);
}

// ------------------------------------------------------------------------------------------------
// request shapes, JWT material
// ------------------------------------------------------------------------------------------------

const BODY_PIECE = 'abcdefghijklmnop';
const BODY_TIMES = 4096; // 64 KiB of lower-case letters
const shapes = {
  get: { method: 'GET', headers: { 'x-remove': '1' } },
  post64: {
    method: 'POST',
    headers: { 'x-remove': '1', 'content-type': 'text/plain' },
    bodyRepeat: [BODY_PIECE, BODY_TIMES],
  },
};

const jwtMaterial = await (async () => {
  try {
    const { SignJWT, generateKeyPair, exportJWK } = await import('jose');
    const secret = 'nodevoy-bench-secret-0123456789abcdef';
    const claims = { sub: 'bench-user', scope: 'read write' };
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('nodevoy-bench')
      .setIssuedAt()
      .setExpirationTime('24h')
      .sign(new TextEncoder().encode(secret));
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const es = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('nodevoy-bench')
      .setIssuedAt()
      .setExpirationTime('24h')
      .sign(privateKey);
    shapes.jwtHs = { method: 'GET', headers: { 'x-remove': '1', authorization: `Bearer ${hs}` } };
    shapes.jwtEs = { method: 'GET', headers: { 'x-remove': '1', authorization: `Bearer ${es}` } };
    return {
      hs: { alg: 'HS256', secret, issuer: 'nodevoy-bench' },
      es: { alg: 'ES256', jwk, issuer: 'nodevoy-bench' },
    };
  } catch (e) {
    return { error: `jose is not installed for the driver (${e.message})` };
  }
})();

// ------------------------------------------------------------------------------------------------
// configurations
// ------------------------------------------------------------------------------------------------

const bundle = path.join(here, 'filters.cjs');
const jwtBundle = path.join(here, 'jwt-filter.cjs');
const fx = (filterName, config) => ({ module: 'fixture', filterName, config });
const js = (filterName, config, module = bundle) => ({
  module: 'nodevoy',
  filterName,
  config: { module, ...(config ? { config } : {}) },
});

// Probe checks: given {status, headers (response), seen (what the echo upstream saw)}, an error or null.
const expect = {
  ok: () => null,
  rewrite: ({ headers, seen }) =>
    seen.headers['x-added'] !== 'yes'
      ? `upstream saw x-added=${seen.headers['x-added']}`
      : seen.headers['x-remove'] !== undefined
        ? 'x-remove was not removed'
        : headers['x-resp'] !== '1'
          ? `response x-resp=${headers['x-resp']}`
          : null,
  header:
    (name, value) =>
    ({ seen }) =>
      seen.headers[name] === value ? null : `upstream saw ${name}=${seen.headers[name]} (want ${value})`,
  callout: ({ seen }) =>
    seen.headers['x-callout-status'] === '200' && seen.headers['x-callout-body'] === 'allowed'
      ? null
      : `upstream saw x-callout-status=${seen.headers['x-callout-status']} x-callout-body=${seen.headers['x-callout-body']}`,
  bodyUpper: ({ seen }) =>
    seen.body.length !== BODY_PIECE.length * BODY_TIMES
      ? `upstream got ${seen.body.length} body bytes`
      : seen.body !== BODY_PIECE.repeat(BODY_TIMES).toUpperCase()
        ? 'upstream saw the body unchanged (onRequestData not applied?)'
        : null,
  bodySame: ({ seen }) =>
    seen.body === BODY_PIECE.repeat(BODY_TIMES) ? null : `upstream got a changed body (${seen.body.length} bytes)`,
};

const REWRITE = { request_set: { 'x-added': 'yes' }, request_remove: ['x-remove'], response_set: { 'x-resp': '1' } };
const NGINX_PROXY = 'proxy_http_version 1.1;\n      proxy_set_header Connection "";';
const allConfigs = [
  { name: 'no filter', group: 'none', filters: [], shape: 'get', describe: 'the proxy with no filter but the router' },
  {
    name: 'native passthrough',
    group: 'native',
    filters: [fx('passthrough', {})],
    shape: 'get',
    describe: 'fixture `passthrough`: every hook returns Continue',
  },
  {
    name: 'JS passthrough',
    group: 'js',
    filters: [js('passthrough')],
    shape: 'get',
    twin: 'native passthrough',
    describe: '`defineFilter({})`: no handlers, so the module skips JS',
  },
  {
    name: 'JS sync no-op handler',
    group: 'js',
    filters: [js('noop')],
    shape: 'get',
    twin: 'native passthrough',
    peers: ['Lua sync no-op'],
    describe: 'an empty sync `onRequestHeaders` (price of dispatching into JS)',
  },
  {
    name: 'native header rewrite',
    group: 'native',
    filters: [fx('headers', REWRITE)],
    shape: 'get',
    check: expect.rewrite,
    describe: 'fixture `headers`: set x-added, delete x-remove on the request, set x-resp on the response',
  },
  {
    name: 'JS header rewrite',
    group: 'js',
    filters: [js('rewrite')],
    shape: 'get',
    twin: 'native header rewrite',
    peers: ['Lua header rewrite', 'Wasm header rewrite'],
    check: expect.rewrite,
    describe: 'the same rewrite in `onRequestHeaders`/`onResponseHeaders`',
  },
  {
    name: 'native park + resume',
    group: 'native',
    filters: [fx('async_resume', { delay_ms: 0, via: 'worker' })],
    shape: 'get',
    check: expect.header('x-fixture-resumed', '1'),
    describe:
      'fixture `async_resume` via "worker": StopIteration, resume event committed to the worker scheduler at once, then continue',
  },
  {
    name: 'JS async, await resolved promise',
    group: 'js',
    filters: [js('asyncResolved')],
    shape: 'get',
    twin: 'native park + resume',
    check: expect.header('x-async', '1'),
    describe: '`async onRequestHeaders` that awaits `Promise.resolve()`, then sets a header',
  },
  {
    name: 'JS async, await setImmediate',
    group: 'js',
    filters: [js('asyncImmediate')],
    shape: 'get',
    twin: 'native park + resume',
    check: expect.header('x-async', '1'),
    describe: 'awaits `setImmediate` (a real event-loop turn: the stream parks and is resumed through the scheduler)',
  },
  {
    name: 'JS JWT verify HS256 (jose)',
    group: 'js',
    filters: [js('jwt', jwtMaterial.hs, jwtBundle)],
    shape: 'jwtHs',
    check: expect.header('x-jwt-sub', 'bench-user'),
    needs: jwtMaterial.error,
    describe: '`jwtVerify` from npm `jose` on the bearer token, HMAC key from the filter config',
  },
  {
    name: 'JS JWT verify ES256 (jose)',
    group: 'js',
    filters: [js('jwt', jwtMaterial.es, jwtBundle)],
    shape: 'jwtEs',
    check: expect.header('x-jwt-sub', 'bench-user'),
    needs: jwtMaterial.error,
    describe: 'the same with an ES256 token and a public JWK from the filter config',
  },
  {
    name: 'Lua sync no-op',
    group: 'lua',
    envoyOnly: true,
    filters: [luaNoop],
    shape: 'get',
    twin: 'native passthrough',
    describe: "Envoy's Lua filter with an empty `envoy_on_request`",
  },
  {
    name: 'Lua header rewrite',
    group: 'lua',
    envoyOnly: true,
    filters: [luaRewrite],
    shape: 'get',
    twin: 'native header rewrite',
    check: expect.rewrite,
    describe: "the rewrite in Envoy's Lua filter (`headers():replace/remove`)",
  },
  {
    name: 'Wasm header rewrite',
    group: 'wasm',
    envoyOnly: true,
    filters: [wasmRewrite],
    shape: 'get',
    twin: 'native header rewrite',
    check: expect.rewrite,
    describe: 'the rewrite as a proxy-wasm module on V8 (benchmarks/wasm/header_rewrite.c, no SDK)',
  },
  {
    name: 'native callout',
    group: 'native',
    filters: [fx('callout', { cluster: 'upstream', path: '/check', timeout_ms: 1000 })],
    shape: 'get',
    check: expect.callout,
    describe:
      'fixture `callout`: GET /check on the upstream cluster via http_callout, copy status and body into request headers, continue',
  },
  {
    name: 'Lua httpCall',
    group: 'lua',
    envoyOnly: true,
    filters: [luaCallout],
    shape: 'get',
    twin: 'native callout',
    check: expect.callout,
    describe: 'Lua `h:httpCall("upstream", GET /check)`, then the same two headers',
  },
  {
    name: 'JS ctx.fetch',
    group: 'js',
    filters: [js('fetchCheck', { cluster: 'upstream', path: '/check' })],
    shape: 'get',
    twin: 'native callout',
    peers: ['Lua httpCall'],
    check: expect.callout,
    describe: '`await ctx.fetch("upstream", "/check")`, then the same two headers',
  },
  {
    name: 'no filter, 64 KiB POST',
    group: 'none',
    filters: [],
    shape: 'post64',
    check: expect.bodySame,
    describe: 'no filter; every request carries a 64 KiB body',
  },
  {
    name: 'JS passthrough, 64 KiB POST',
    group: 'js',
    filters: [js('passthrough')],
    shape: 'post64',
    check: expect.bodySame,
    describe: 'no handlers, 64 KiB body',
  },
  {
    name: 'native uppercase body, buffered',
    group: 'native',
    filters: [fx('uppercase_body', { response: false })],
    shape: 'post64',
    check: expect.bodyUpper,
    describe: 'fixture `uppercase_body`: buffer the whole request body, upper-case it at end of stream',
  },
  {
    name: 'native uppercase body, per chunk',
    group: 'native',
    filters: [fx('uppercase_body', { response: false, stream: true })],
    shape: 'post64',
    check: expect.bodyUpper,
    describe: 'fixture `uppercase_body` with stream: upper-case each chunk as it arrives',
  },
  {
    name: 'JS uppercase body (onRequestData)',
    group: 'js',
    filters: [js('upperBody')],
    shape: 'post64',
    twin: 'native uppercase body, per chunk',
    check: expect.bodyUpper,
    bodyStats: true,
    describe: '`onRequestData` returns an upper-cased copy of each chunk (byte loop)',
  },
  {
    name: 'JS onRequestData no-op',
    group: 'js',
    filters: [js('dataNoop')],
    shape: 'post64',
    twin: 'native passthrough',
    check: expect.bodySame,
    bodyStats: true,
    dependsOn: 'JS uppercase body (onRequestData)',
    describe: '`onRequestData` looks at each chunk and passes it unchanged (price of a body view)',
  },
  {
    name: 'nginx proxy',
    group: 'nginx',
    nginx: '',
    shape: 'get',
    base: 'nginx proxy',
    describe: 'nginx reverse proxy (upstream keepalive), no rewrite',
  },
  {
    name: 'nginx native header rewrite',
    group: 'nginx',
    nginx: 'proxy_set_header x-added yes;\n      proxy_set_header x-remove "";\n      add_header x-resp 1;',
    shape: 'get',
    base: 'nginx proxy',
    check: expect.rewrite,
    describe: 'the rewrite with nginx directives (proxy_set_header, add_header)',
  },
  {
    name: 'nginx njs header rewrite',
    group: 'njs',
    njs: true,
    nginx:
      'proxy_set_header x-added $nv_added;\n      proxy_set_header x-remove $nv_removed;\n      js_header_filter main.response;',
    shape: 'get',
    base: 'nginx proxy',
    twin: 'nginx native header rewrite',
    check: expect.rewrite,
    describe:
      'the rewrite in njs (benchmarks/njs/rewrite.js): js_set variables feed proxy_set_header (njs cannot edit r.headersIn), js_header_filter sets x-resp',
  },
];
for (const c of allConfigs) c.base ??= c.shape === 'post64' ? 'no filter, 64 KiB POST' : 'no filter';

/** "Envoy 1.40.0 ×1", "host ×2": which proxy and how many workers a row ran on. */
const tagOf = (proxy, workers) => `${proxy.kind === 'envoy' ? `Envoy ${proxy.version}` : 'host'} ×${workers}`;
// Each proxy-filter template once per proxy and worker count; the names it refers to (base, twin, peers)
// are the rows of the same proxy and worker count. nginx rows run once.
const expanded = allConfigs.flatMap((t) => {
  if (t.nginx !== undefined) return [{ ...t, tag: '' }];
  const out = [];
  for (const proxy of proxies) {
    if (t.envoyOnly && proxy.kind !== 'envoy') continue;
    for (const workers of workerCounts) {
      const tag = tagOf(proxy, workers);
      const at = (n) => n && `${n} [${tag}]`;
      out.push({
        ...t,
        template: t.name,
        name: at(t.name),
        tag,
        proxy,
        workers,
        base: at(t.base),
        twin: at(t.twin),
        dependsOn: at(t.dependsOn),
        peers: t.peers?.map(at),
      });
    }
  }
  return out;
});
const configs = expanded.filter((c) => !only || only.test(c.name));

// ------------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------------

/** The most telling lines of a failure (host stderr is long). */
function reason(e) {
  const text = String(e?.message ?? e);
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const telling = lines.filter((l) => /error|reject|fail|not supported|unknown|cannot|invalid|exited/i.test(l));
  const pick = (telling.length ? telling.slice(-2) : lines.slice(-2)).join(' / ');
  return pick.replace(/\s+/g, ' ').slice(0, 400);
}
const median = (a) => {
  const s = a.filter((x) => x !== null && x !== undefined && !Number.isNaN(x)).sort((x, y) => x - y);
  if (!s.length) return null;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

let upstream;
let echo;

function hostYaml(port, filters, extra = {}) {
  return hostConfig({
    port,
    filters,
    clusters: { upstream: upstream.port, echo: echo.port },
    routes: [
      { prefix: '/echo/', cluster: 'echo' },
      { prefix: '/', cluster: 'upstream' },
    ],
    ...extra,
  });
}

function nginxHttp(port, directives) {
  const loc = (up) => `proxy_pass http://${up};\n      ${NGINX_PROXY}\n      ${directives}`;
  return `
  upstream main { server 127.0.0.1:${upstream.port}; keepalive 64; }
  upstream echo { server 127.0.0.1:${echo.port}; keepalive 4; }
  js_import_placeholder
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location /echo/ {
      ${loc('echo')}
    }
    location = /__njs_version { js_content_placeholder }
    location / {
      ${loc('main')}
    }
  }`;
}

async function startServer(c, proxy = c.proxy) {
  const port = await freePort();
  if (c.nginx !== undefined) {
    if (!nginxAvailable()) throw new Error('nginx is not installed (run benchmarks/setup.sh)');
    if (c.njs && !njsAvailable()) throw new Error('the njs module is not installed (run benchmarks/setup.sh)');
    let http = nginxHttp(port, c.nginx);
    if (c.njs) {
      http = http
        .replace(
          'js_import_placeholder',
          `js_import main from ${path.join(here, 'njs', 'rewrite.js')};\n  js_set $nv_added main.added;\n  js_set $nv_removed main.removed;`,
        )
        .replace('js_content_placeholder', 'js_content main.version;');
    } else {
      http = http
        .replace('js_import_placeholder', '')
        .replace('location = /__njs_version { js_content_placeholder }', '');
    }
    const s = await startNginx({ port, http, njs: c.njs });
    return { port, pid: s.proc.pid, stop: () => s.stop(), log: () => s.output() };
  }
  const h = await startHost(hostYaml(port, c.filters), {
    proxy,
    concurrency: c.workers,
    check: false,
    logLevel: 'warning',
    startTimeoutMs: proxy.wrapper ? 180000 : 30000,
  });
  return { port, pid: h.proc.pid, stop: () => h.stop(), log: () => h.stderr() };
}

async function probe(c, port) {
  const s = shapes[c.shape];
  const body = s.bodyRepeat ? s.bodyRepeat[0].repeat(s.bodyRepeat[1]) : undefined;
  const r = await request(port, {
    method: s.method,
    path: '/echo/probe',
    headers: s.headers,
    body,
    agent: false,
    timeoutMs: 10000,
  });
  if (r.status !== 200) throw new Error(`probe: status ${r.status}: ${r.body.slice(0, 300)}`);
  let seen;
  try {
    seen = JSON.parse(r.body);
  } catch {
    throw new Error(`probe: the echo upstream's answer did not come through: ${r.body.slice(0, 200)}`);
  }
  const problem = (c.check ?? expect.ok)({ status: r.status, headers: r.headers, seen });
  if (problem) throw new Error(`probe: ${problem}`);
  // The real path too (the fast upstream), once.
  const r2 = await request(port, {
    method: s.method,
    path: '/',
    headers: s.headers,
    body,
    agent: false,
    timeoutMs: 10000,
  });
  if (r2.status !== 200) throw new Error(`probe of /: status ${r2.status}: ${r2.body.slice(0, 300)}`);
}

async function measure(c, seconds) {
  const cpu0 = cpuSeconds(c.server.pid);
  const w = await runWrk({ port: c.server.port, seconds, connections: params.connections, script: c.script });
  const cpu = cpuSeconds(c.server.pid) - cpu0;
  const run = {
    requests: w.requests,
    seconds: w.duration_us / 1e6,
    rps: w.requests / (w.duration_us / 1e6),
    cpuUs: w.requests ? (cpu * 1e6) / w.requests : null,
    cpuSeconds: cpu,
    p50: w.p50,
    p90: w.p90,
    p99: w.p99,
    p999: w.p999,
    mean: w.mean,
    max: w.max,
    errors: { connect: w.connect, read: w.read, write: w.write, status: w.status, timeout: w.timeout },
  };
  if (!w.requests) throw new Error('wrk completed no request');
  if (w.status > w.requests * 0.001) throw new Error(`${w.status} of ${w.requests} responses were not 2xx/3xx`);
  if (w.timeout + w.connect > w.requests * 0.01)
    throw new Error(`${w.timeout} timeouts, ${w.connect} connect errors in ${w.requests} requests`);
  return run;
}

// ------------------------------------------------------------------------------------------------
// 1. end to end
// ------------------------------------------------------------------------------------------------

async function loadBench() {
  const byName = new Map(configs.map((c) => [c.name, c]));
  for (const c of configs) {
    c.runs = [];
    c.errors = [];
    if (c.needs) {
      c.failed = c.needs;
      continue;
    }
    const dep = c.dependsOn && byName.get(c.dependsOn);
    if (dep?.failed && /onRequestData/.test(dep.failed)) {
      c.failed = `needs onRequestData (${c.dependsOn} failed: ${dep.failed})`;
      continue;
    }
    try {
      say(`start + probe + warm-up: ${c.name}`);
      try {
        c.server = await startServer(c);
      } catch (e) {
        // A proxy that dies while starting is retried once; the first failure stays in the report.
        c.startFailure = { reason: reason(e), detail: String(e.message ?? e).slice(-4000) };
        say(`  start failed, retrying once: ${c.startFailure.reason}`);
        c.server = await startServer(c);
      }
      await probe(c, c.server.port);
      c.script = wrkScript(shapes[c.shape]);
      await runWrk({
        port: c.server.port,
        seconds: params.warmupSeconds,
        connections: params.connections,
        script: c.script,
      });
    } catch (e) {
      c.failed = reason(e);
      c.failedDetail = String(e.message ?? e).slice(-4000);
      say(`  failed: ${c.failed}`);
      await c.server?.stop();
      c.server = null;
    }
  }
  for (let round = 0; round < params.rounds; round++) {
    const order = configs.filter((c) => c.server);
    if (round % 2) order.reverse();
    say(`round ${round + 1}/${params.rounds} (${order.length} configurations × ${params.seconds} s)`);
    for (const c of order) {
      try {
        c.runs.push({ round, ...(await measure(c, params.seconds)) });
      } catch (e) {
        c.errors.push({ round, error: reason(e) });
      }
    }
  }
  for (const c of configs) {
    if (!c.server) continue;
    try {
      c.rssKb = rssKb(c.server.pid);
    } catch {
      c.rssKb = null;
    }
    if (c.errors.length > c.runs.length) c.failed ??= c.errors.at(-1).error;
    if (c.bodyStats) {
      const last = [...c.server.log().matchAll(/bench-body-stats chunks=(\d+) bytes=(\d+)/g)].at(-1);
      if (last) c.chunksPerRequest = Number(last[1]) / (Number(last[2]) / (BODY_PIECE.length * BODY_TIMES));
      else if (c.runs.reduce((n, r) => n + r.requests, 0) >= 1024)
        c.failed ??= 'onRequestData was never called (no bench-body-stats line in the host log)';
    }
    if (c.njs) {
      try {
        versionsInfo.njs = (await request(c.server.port, { path: '/__njs_version', agent: false })).body.trim();
      } catch {
        // keep the package version only
      }
    }
    await c.server.stop();
    c.server = null;
    if (!c.failed && c.errors.length > c.runs.length) c.failed = c.errors.at(-1).error;
    if (!c.failed && !c.runs.length) c.failed = 'no measurement completed';
  }
  // medians and ratios
  for (const c of configs) {
    if (c.failed) continue;
    const pick = (k) => c.runs.map((r) => r[k]);
    c.median = Object.fromEntries(['rps', 'cpuUs', 'p50', 'p90', 'p99', 'p999'].map((k) => [k, median(pick(k))]));
    const cpus = pick('cpuUs');
    c.range = { cpuUs: [Math.min(...cpus), Math.max(...cpus)] };
  }
  for (const c of configs) {
    if (c.failed) continue;
    const base = byName.get(c.base);
    const twin = c.twin && byName.get(c.twin);
    c.ratios = {
      cpuVsBase: base && !base.failed ? c.median.cpuUs / base.median.cpuUs : null,
      rpsVsBase: base && !base.failed ? c.median.rps / base.median.rps : null,
      cpuVsTwin: twin && !twin.failed ? c.median.cpuUs / twin.median.cpuUs : null,
      cpuVsPeers: Object.fromEntries(
        (c.peers ?? [])
          .map((n) => byName.get(n))
          .filter((p) => p && !p.failed)
          .map((p) => [p.template, c.median.cpuUs / p.median.cpuUs]),
      ),
    };
  }
}

// ------------------------------------------------------------------------------------------------
// 1b. instructions per request (callgrind)
// ------------------------------------------------------------------------------------------------

// In --quick mode only the rows the targets compare (no-op and header rewrite against Lua, Wasm, native).
const QUICK_INSTRUCTION_ROWS =
  /^(no filter|native passthrough|JS sync no-op handler|Lua sync no-op|native header rewrite|JS header rewrite|Lua header rewrite|Wasm header rewrite) \[/;

const withBudgets = (c) => ({
  ...c,
  filters: c.filters.map((f) =>
    f.module === 'nodevoy' ? { ...f, config: { ...f.config, sync_budget_ms: 60000, async_budget_ms: 3600000 } } : f,
  ),
});

async function instructionBench() {
  if (mainProxy.kind !== 'envoy') return { skipped: 'the first proxy is not Envoy' };
  if (!callgrindAvailable()) return { failed: 'valgrind is not installed (run benchmarks/setup.sh)' };
  const rows = configs.filter(
    (c) =>
      c.proxy === mainProxy &&
      c.workers === workerCounts[0] &&
      !c.needs &&
      !c.failed &&
      !(quick && !QUICK_INSTRUCTION_ROWS.test(c.name)),
  );
  for (const c of rows) {
    say(`callgrind: ${c.name}`);
    const s = shapes[c.shape];
    const body = s.bodyRepeat ? s.bodyRepeat[0].repeat(s.bodyRepeat[1]) : undefined;
    // 64 KiB bodies are slow under valgrind: a tenth of the requests.
    const scale = body ? 0.1 : 1;
    try {
      c.instructions = await countInstructions({
        proxy: mainProxy,
        // Under callgrind JS runs ~50× slower (and compiles slower still): the watchdog's budgets would
        // stop a handler that is merely being counted.
        start: (p) => startServer(withBudgets(c), p),
        shape: { method: s.method, headers: s.headers, body },
        warmup: Math.round(params.instrWarmup * scale),
        requests: Math.round(params.instrRequests * scale),
      });
    } catch (e) {
      c.instructionsFailed = reason(e);
      say(`  failed: ${c.instructionsFailed}`);
    }
  }
  const byName = new Map(rows.map((c) => [c.name, c]));
  const per = (n) => byName.get(n)?.instructions?.perRequest ?? null;
  return {
    rows: rows.map((c) => {
      const v = c.instructions?.perRequest ?? null;
      const r = (n) => (v !== null && per(n) ? v / per(n) : null);
      return {
        name: c.name,
        template: c.template,
        failed: c.instructionsFailed ?? null,
        perRequest: v,
        windows: c.instructions?.windows ?? null,
        requests: c.instructions?.requests ?? null,
        warmup: c.instructions?.warmup ?? null,
        base: c.base,
        twin: c.twin ?? null,
        vsBase: r(c.base),
        vsTwin: c.twin ? r(c.twin) : null,
        vsPeers: Object.fromEntries((c.peers ?? []).filter((n) => per(n)).map((n) => [byName.get(n).template, r(n)])),
        overBase: v !== null && per(c.base) ? v - per(c.base) : null,
      };
    }),
  };
}

// ------------------------------------------------------------------------------------------------
// 2. price list
// ------------------------------------------------------------------------------------------------

async function microBench() {
  const port = await freePort();
  let host;
  const headers = Object.fromEntries('abcdefgh'.split('').map((l) => [`x-bench-${l}`, `value-${l}`]));
  const get = async (q) => {
    const r = await request(port, { path: `/__bench/micro?${q}`, headers, timeoutMs: 30000 });
    if (r.status !== 200) throw new Error(`${q}: status ${r.status}: ${r.body.slice(0, 300)}`);
    return JSON.parse(r.body);
  };
  try {
    host = await startHost(hostYaml(port, [js('micro')]), {
      proxy: mainProxy,
      concurrency: 1,
      check: false,
      logLevel: 'info',
    });
    const list = await get('op=list');
    versionsInfo.embeddedNode = list.node;
    versionsInfo.embeddedV8 = list.v8;
    const reps = Object.fromEntries(list.ops.map((op) => [op, []]));
    for (let i = 0; i < params.microReps; i++) {
      for (const op of list.ops) reps[op].push(await get(`op=${encodeURIComponent(op)}&n=${params.microN}`));
    }
    const label = (op) => (/full (iteration|copy)/.test(op) ? `${op} (${list.headerCount} headers)` : op);
    const out = {
      headerCount: list.headerCount,
      reps,
      ns: Object.fromEntries(list.ops.map((op) => [label(op), median(reps[op].map((x) => x.ns))])),
      n: Object.fromEntries(list.ops.map((op) => [label(op), reps[op][0].n])),
    };
    if (mainProxy.kind === 'envoy') Object.assign((out.lua = {}), await luaMicroBench(headers));
    return out;
  } catch (e) {
    return { failed: reason(e) };
  } finally {
    await host?.stop();
  }
}

/** The same header operations in Envoy's Lua filter, for the price list. */
async function luaMicroBench(headers) {
  const port = await freePort();
  let envoy;
  try {
    envoy = await startHost(hostYaml(port, [luaMicro]), {
      proxy: mainProxy,
      concurrency: 1,
      check: false,
      logLevel: 'warning',
    });
    const ns = {};
    const n = {};
    for (const [op, label] of Object.entries(LUA_MICRO_OPS)) {
      const runs = [];
      for (let i = 0; i < params.microReps; i++) {
        const r = await request(port, {
          path: `/__bench/luamicro?op=${op}&n=${params.microN}`,
          headers,
          timeoutMs: 30000,
        });
        if (r.status !== 200) throw new Error(`lua ${op}: status ${r.status}: ${r.body.slice(0, 200)}`);
        runs.push(JSON.parse(r.body));
      }
      ns[op === 'iterate' ? `${label} (${Object.keys(headers).length + 5}+ headers)` : label] = median(
        runs.map((x) => x.ns),
      );
      n[label] = runs[0].n;
    }
    return { ns, n };
  } catch (e) {
    return { failed: reason(e) };
  } finally {
    await envoy?.stop();
  }
}

function prices(micro) {
  const rows = [];
  if (!micro) {
    // skipped
  } else if (micro.failed)
    rows.push({ name: 'in-process operations (headers, log)', failed: micro.failed, method: 'in-process loop' });
  else {
    for (const [name, v] of Object.entries(micro.ns))
      rows.push({
        name: `JS ${name}`,
        value: v,
        unit: 'ns',
        method: `in-process loop on ${mainProxy.label}, n=${micro.n[name]}, median of ${params.microReps}`,
      });
    if (micro.lua?.failed)
      rows.push({ name: 'Lua header operations', failed: micro.lua.failed, method: 'in-process loop' });
    else
      for (const [name, v] of Object.entries(micro.lua?.ns ?? {}))
        rows.push({
          name: `Lua ${name}`,
          value: v,
          unit: 'ns',
          method: `Envoy's Lua filter, os.clock around ${params.microN} calls, median of ${params.microReps}`,
        });
  }
  // Differences between end-to-end rows, for each proxy at the first worker count.
  for (const proxy of proxies) {
    const tag = tagOf(proxy, workerCounts[0]);
    const cfg = (n) => configs.find((c) => c.name === `${n} [${tag}]`);
    const diff = (name, a, b, method, per = 1, perLabel = '') => {
      const A = cfg(a);
      const B = cfg(b);
      if (!A || !B) return; // filtered out with --only, or not run on this proxy
      const failed = A.failed
        ? `${a}: ${A.failed}`
        : B.failed
          ? `${b}: ${B.failed}`
          : !per
            ? 'chunks per request unknown'
            : null;
      rows.push({
        name: `${name} [${tag}]`,
        value: failed ? null : (A.median.cpuUs - B.median.cpuUs) / per,
        unit: 'µs',
        failed,
        method: `${method}: proxy CPU/request of "${a}" − "${b}"${perLabel}`,
      });
    };
    for (const [what, a, b] of PRICE_DIFFS) diff(what, a, b, 'derived');
    const noop = cfg('JS onRequestData no-op');
    const per = noop?.chunksPerRequest;
    diff(
      'body view creation + detach, per chunk',
      'JS onRequestData no-op',
      'JS passthrough, 64 KiB POST',
      'derived',
      per,
      per ? ` ÷ ${per.toFixed(2)} chunks/request (counted by the filter)` : '',
    );
  }
  return rows;
}

// ------------------------------------------------------------------------------------------------
// 3. memory
// ------------------------------------------------------------------------------------------------

async function settleRss(pid) {
  await sleep(300);
  return rssKb(pid);
}

async function memoryEnv() {
  const rows = [];
  for (const [name, filters] of [
    ['no filter', []],
    ['JS header rewrite', [js('rewrite')]],
  ]) {
    const port = await freePort();
    let host;
    try {
      host = await startHost(hostYaml(port, filters), {
        proxy: mainProxy,
        concurrency: 1,
        check: false,
        logLevel: 'warning',
      });
      const before = await settleRss(host.proc.pid);
      for (let i = 0; i < 200; i++) await request(port, { path: '/', headers: shapes.get.headers });
      const after = await settleRss(host.proc.pid);
      rows.push({
        name: `${name}, 1 worker, after start`,
        rssKb: before,
        note: filters.length ? 'main-thread Node environment + bundle loaded' : '',
      });
      rows.push({
        name: `${name}, 1 worker, after 200 requests`,
        rssKb: after,
        note: filters.length ? `the worker's Node environment: +${((after - before) / 1024).toFixed(1)} MB` : '',
      });
    } catch (e) {
      rows.push({ name, failed: reason(e) });
    } finally {
      await host?.stop();
    }
  }
  const nf = rows.find((r) => r.name === 'no filter, 1 worker, after 200 requests');
  const jsr = rows.find((r) => r.name === 'JS header rewrite, 1 worker, after 200 requests');
  if (nf?.rssKb && jsr?.rssKb)
    rows.push({
      name: 'JS filter host − no-filter host (1 worker)',
      rssKb: jsr.rssKb - nf.rssKb,
      note: 'two Node environments (main thread + worker) and the bundle',
    });
  return rows;
}

// Route-table variants: which filter, and whether every route carries a per-route config for it.
const routeVariants = {
  noFilter: { filters: [], perRoute: null, want: () => undefined },
  nativePerRoute: {
    filters: [fx('per_route', {})],
    perRoute: (i) => ({ per_route: { perRouteName: 'per_route', config: { config: { value: i } } } }),
    want: (i, seen) =>
      JSON.parse(seen['x-route-config'] ?? '{}')?.config?.value === i
        ? null
        : `route ${i} got ${seen['x-route-config']}`,
  },
  jsPlain: {
    filters: [js('routeAware', { value: 'filter-level' })],
    perRoute: null,
    want: (i, seen) => (seen['x-route-value'] === 'filter-level' ? null : `route ${i} got ${seen['x-route-value']}`),
  },
  jsPerRoute: {
    filters: [js('routeAware', { value: 'filter-level' })],
    perRoute: (i) => ({ routeAware: { perRouteName: 'routeAware', config: { config: { value: i } } } }),
    want: (i, seen) => (seen['x-route-value'] === String(i) ? null : `route ${i} got ${seen['x-route-value']}`),
  },
};

async function routeHost(n, variant) {
  const v = routeVariants[variant];
  const port = await freePort();
  const routes = [];
  for (let i = 0; i < n; i++) {
    const r = { path: `/r/${i}`, cluster: 'echo' };
    if (v.perRoute) r.perFilter = v.perRoute(i);
    routes.push(r);
  }
  routes.push({ prefix: '/', cluster: 'echo' });
  const yaml = hostYaml(port, v.filters, { routes });
  const t0 = Date.now();
  let host;
  try {
    host = await startHost(yaml, {
      proxy: mainProxy,
      concurrency: 1,
      check: false,
      logLevel: 'warning',
      startTimeoutMs: 180000,
    });
    const startMs = Date.now() - t0;
    let good = 0;
    let wrong = '';
    const picks = [...new Set(Array.from({ length: 20 }, (_, k) => Math.floor((k * n) / 20)))];
    for (const i of picks) {
      const r = await request(port, { path: `/r/${i}` });
      if (r.status !== 200) throw new Error(`GET /r/${i}: status ${r.status}: ${r.body.slice(0, 200)}`);
      const problem = v.want(i, JSON.parse(r.body).headers);
      if (!problem) good++;
      else wrong ||= problem;
    }
    const rss = await settleRss(host.proc.pid);
    return { rssKb: rss, startMs, valueSeen: `${good}/${picks.length}${wrong ? ` (${wrong})` : ''}` };
  } catch (e) {
    return { failed: reason(e) };
  } finally {
    await host?.stop();
  }
}

async function memoryRoutes() {
  const rows = [];
  for (const n of params.routeCounts) {
    say(`route table: ${n} routes`);
    const row = { routes: n };
    for (const variant of Object.keys(routeVariants)) row[variant] = await routeHost(n, variant);
    rows.push(row);
  }
  return rows;
}

// ------------------------------------------------------------------------------------------------
// main
// ------------------------------------------------------------------------------------------------

const versionsInfo = versions();
const data = {
  mode,
  startedAt,
  command: `node benchmarks/run.mjs ${argv.join(' ')}`.trim(),
  params,
  machine: machineInfo(),
  versions: versionsInfo,
};

const stopAll = async () => {
  for (const c of configs) await c.server?.stop().catch(() => {});
  await upstream?.stop().catch(() => {});
  await echo?.close().catch(() => {});
};
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    stopAll().finally(() => process.exit(130));
  });
}

upstream = await startFastUpstream();
echo = await startUpstream();
data.upstreamKind = upstream.kind;
say(
  `upstream: ${upstream.kind} on ${upstream.port}; mode ${mode}: ${params.rounds} rounds × ${params.seconds} s, warm-up ${params.warmupSeconds} s, ${configs.length} configurations`,
);

/** The failure lines of an instruction phase: the phase itself, or its rows. */
const instructionFailures = (ins) => [
  ...(ins.failed ? [`instructions: ${ins.failed}`] : []),
  ...(ins.rows ?? []).filter((r) => r.failed).map((r) => `instructions "${r.name}": ${r.failed}`),
];

// --instructions-only --merge-into <json>: count instructions again and put them into a saved run.
const mergeInto = opt('merge-into');
if (flag('instructions-only')) {
  let instructions;
  try {
    for (const c of configs) c.runs = [];
    instructions = await instructionBench();
  } finally {
    await stopAll();
  }
  const failed = instructionFailures(instructions);
  if (mergeInto) {
    const saved = JSON.parse(fs.readFileSync(mergeInto, 'utf8'));
    saved.instructions = {
      ...instructions,
      command: `node benchmarks/run.mjs ${argv.join(' ')}`.trim(),
      at: startedAt,
    };
    saved.failures = [...saved.failures.filter((f) => !f.startsWith('instructions')), ...failed];
    writeReport(saved, { refreshReadmes: saved.mode === 'full' && !/--only/.test(saved.command) });
    say(`merged the instruction counts into ${mergeInto} and re-rendered it`);
  } else console.log(JSON.stringify(instructions, null, 2));
  for (const f of failed) say(f);
  process.exit(failed.length ? 1 : 0);
}

try {
  await loadBench();
  data.instructions = flag('no-instructions') ? { skipped: '--no-instructions' } : await instructionBench();
  let micro = null; // skipped with --no-micro
  if (!flag('no-micro')) {
    say('price list (in-process loops)');
    micro = await microBench();
  }
  data.micro = micro;
  data.prices = prices(micro);
  data.memory = { env: [], routes: [] };
  if (!flag('no-memory')) {
    say('memory');
    data.memory.env = await memoryEnv();
    data.memory.routes = await memoryRoutes();
  }
} finally {
  await stopAll();
}

data.load = configs.map((c) => ({
  name: c.name,
  template: c.template ?? c.name,
  proxy: c.proxy?.label ?? 'nginx',
  workers: c.workers ?? 1,
  peers: c.peers ?? [],
  group: c.group,
  describe: c.describe,
  base: c.base,
  twin: c.twin ?? null,
  failed: c.failed ?? null,
  failedDetail: c.failedDetail ?? null,
  startFailure: c.startFailure ?? null,
  median: c.median ?? null,
  range: c.range ?? null,
  ratios: c.ratios ?? null,
  rssKb: c.rssKb ?? null,
  chunksPerRequest: c.chunksPerRequest ?? null,
  runs: c.runs,
  errors: c.errors,
}));
const njsRow = data.load.find((c) => c.name === 'nginx njs header rewrite');
const jsRow = data.load.find((c) => c.template === 'JS header rewrite');
if (njsRow?.ratios && jsRow?.ratios) {
  const pct = (r) => `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(0)} %`;
  data.peerSummary =
    `the header rewrite costs ${pct(jsRow.ratios.cpuVsBase)} CPU per request over no filter in nodevoy (JS) ` +
    `(${jsRow.ratios.cpuVsTwin ? `${pct(jsRow.ratios.cpuVsTwin)} over the native twin` : 'native twin n/a'}), ` +
    `and ${pct(njsRow.ratios.cpuVsBase)} over plain nginx proxying in njs ` +
    `(${njsRow.ratios.cpuVsTwin ? `${pct(njsRow.ratios.cpuVsTwin)} over nginx's own directives` : 'directives n/a'}).`;
}
data.failures = [
  ...data.load.filter((c) => c.failed).map((c) => `end to end "${c.name}": ${c.failed}`),
  ...data.prices.filter((r) => r.failed).map((r) => `price "${r.name}": ${r.failed}`),
  ...instructionFailures(data.instructions),
  ...data.memory.env.filter((r) => r.failed).map((r) => `memory "${r.name}": ${r.failed}`),
  ...data.memory.routes.flatMap((r) =>
    Object.keys(routeVariants)
      .filter((v) => r[v].failed)
      .map((v) => `memory ${r.routes} routes, ${v}: ${r[v].failed}`),
  ),
];
data.notes = data.load
  .filter((c) => c.startFailure)
  .map((c) => `"${c.name}": the proxy died while starting and was restarted once: ${c.startFailure.reason}`);
data.durationMs = Date.now() - started;

let md;
if (flag('no-save')) md = markdown(data, { svgFile: `${stamp(data)}.svg` });
else {
  // A full run of everything refreshes the tables in README.md and benchmarks/README.md.
  md = writeReport(data, { refreshReadmes: !quick && !only });
  say(`wrote benchmarks/results/${stamp(data)}.{md,json,svg} and latest.md`);
}
console.log(md);
say(`done in ${(data.durationMs / 1000).toFixed(0)} s; ${data.failures.length} failed`);
if (quick && data.failures.length) {
  say('quick mode: some configurations produced no numbers:');
  for (const f of data.failures) say(`  ${f}`);
  process.exit(1);
}
process.exit(0);
