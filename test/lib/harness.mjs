// test/lib/harness.mjs -- shared helpers for the end-to-end tap suites that drive the ABI host
// (build/nodevoy-host, a test tool that runs Envoy dynamic modules; it is not Envoy) over real HTTP/1.1.
//
// API (ESM; every function is a named export):
//
//   freePort() -> Promise<number>
//       A TCP port on 127.0.0.1 that was free a moment ago.
//
//   startUpstream(handler?) -> Promise<{port, requests, close()}>
//       A node:http server on 127.0.0.1:<free port>. `requests` collects one record per request,
//       pushed when the request head arrives and completed in place:
//         {method, path, headers, body /*utf8 so far*/, trailers /*req.trailers*/, complete /*bool*/}.
//       Special paths (checked first, whatever the handler):
//         /stall                  never responds
//         /reset-before-headers   destroys the socket at once
//         /reset-mid-body         writes headers and part of a chunked body, then destroys the socket
//         /chunked-trailers       chunked "hello world" with the trailer `x-up-trailer: t`
//         /big?n=BYTES            n bytes of 'a' (content-length framed)
//       Everything else goes to handler(req, res, record) once the request body has ended, or by
//       default to the echo: 200, application/json, {method, path, headers, body, trailers}.
//       close() destroys open connections and resolves once the server is closed.
//
//   hostConfig(opts) -> string (an Envoy v3 bootstrap in YAML, Envoy's own field names)
//       opts = {
//         port, adminPort?,                               listener / admin ports
//         filters: [{name?, module: 'fixture'|'nodevoy'|..., filterName, config, doNotClose = true,
//                    metricsNamespace?}],                 config: object -> google.protobuf.Struct,
//                                                         string -> google.protobuf.StringValue,
//                                                         undefined -> no filter_config
//         clusters: {name: port, ...},
//         routes?: [{prefix | path, cluster | direct: {status, body?},
//                    perFilter?: {key: {perRouteName?, config}}, timeout?: '0.5s'}],
//                                                         default: one route prefix "/" -> first cluster.
//                                                         perFilter keys are http filter names; a key
//                                                         that is some filter's filterName maps to it.
//         bufferLimit?,                                   listener per_connection_buffer_limit_bytes
//         listenerExtra?, bootstrapExtra?                 extra raw fields (to test rejection)
//       }
//       A filter's http filter `name` defaults to its filterName (suffixed _2, _3... when repeated).
//       {name, typedConfig} instead is any other Envoy http filter (Lua, Wasm...), written as given.
//
//   startHost(yaml, {concurrency = 2, env = {}, args = [], check = true, searchPath, logLevel,
//                    port, adminPort, startTimeoutMs = 30000}) ->
//       Promise<{port, adminPort, proc, stderr(), stop(), exited}>
//       Writes yaml to a temp file and spawns ${NODEVOY_BUILD || 'build'}/nodevoy-host (relative to
//       the repo root) with `-c file --concurrency N`, `--check-lifetimes` when check, `--log-level`
//       when logLevel, then args. ENVOY_DYNAMIC_MODULES_SEARCH_PATH defaults to the build dir
//       (searchPath overrides it). The listener (and admin) ports are read from the yaml. Resolves
//       once the listener and admin ports accept TCP; rejects with the stderr if the process exits
//       first. port/adminPort override what is read from the yaml. stop() sends SIGTERM and
//       resolves the exit code (SIGKILL after 20 s; then the code is null); calling it again returns
//       the same promise. `exited` resolves {code, signal} when the process ends. With the env var
//       NODEVOY_HOST_STDERR=1 the host's stderr is also copied to the test's stderr.
//
//   runHostExpectFailure(yaml, opts) -> Promise<{code, signal, stderr}>
//       For configs the host must reject: same opts as startHost (plus timeoutMs = 20000); waits for
//       the exit, or SIGKILLs and rejects after timeoutMs.
//
//   request(port, {method = 'GET', path = '/', headers = {}, body, agent, timeoutMs = 30000,
//                  trailers}) -> Promise<{status, headers, body, trailers, reusedSocket, localPort}>
//       node:http request; body: string | Buffer (one piece, content-length framed unless trailers
//       are given) | array of chunks (separate writes 20 ms apart, chunked unless a content-length
//       header is given); trailers: request trailers (forces chunked framing). agent defaults to a
//       shared keep-alive agent (keepAliveAgent); pass false for a fresh connection. Rejects on
//       connection errors, on an aborted or incomplete response (err.partial holds the body so far)
//       and on timeout.
//
//   rawRequest(port, raw, {readUntilClose = false, timeoutMs = 10000}) ->
//       Promise<{raw, status, headers, body, trailers, closed, error}>
//       Writes `raw` on a net.Socket (raw may be a string, or an array of strings written 20 ms
//       apart), then reads one HTTP/1.1 response (content-length, chunked with trailers, or until
//       close; no body after a HEAD request), or everything until the peer closes with
//       readUntilClose. Header and trailer names are lower-cased. It resolves (never rejects) when
//       the socket closes or errors early; `error` holds the error code then, `closed` says whether
//       the peer closed the connection.
//
//   resetAfter(port, rawPartialRequest, delayMs) -> Promise<{received}>
//       Writes a partial request, waits delayMs, then destroys the socket with a TCP RST.
//
//   adminGet(adminPort, path) -> Promise<string>   GET on the admin port; rejects unless 200.
//   waitFor(fn, {timeoutMs = 10000, intervalMs = 25}) polls fn (may be async) until it returns a
//       truthy value, which it resolves; rejects on timeout.
//   toYaml(value) -> block YAML for plain data (every string quoted). sleep(ms).
//   keepAliveAgent, buildDir, hostBinary, repoRoot.
//
// test/lib/setup.mjs builds on this: withHost(t, opts) starts an upstream + host with teardown, and
// fx(filterName, config) makes a fixture filter entry.
//
// Cleanup: tests register t.teardown(() => host.stop()) / t.teardown(() => upstream.close()). As a
// safety net every host still running when the test process exits is SIGKILLed.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeProxy, proxyArgs } from './proxy.mjs';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const buildDir = path.resolve(repoRoot, process.env.NODEVOY_BUILD || 'build');
// The proxy under test: nodevoy-host by default, a real Envoy with NODEVOY_PROXY=envoy@<version>.
export const proxy = makeProxy(buildDir);
export const hostBinary = proxy.bin;
export const onEnvoy = proxy.kind === 'envoy';

/** Ends a test early on real Envoy, with the reason (host-only fault injection or checks). */
export function hostOnly(t, why) {
  if (!onEnvoy) return false;
  t.pass(`host only on ${proxy.label}: ${why}`);
  return true;
}

export const keepAliveAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(fn, { timeoutMs = 10000, intervalMs = 25 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `waitFor timed out after ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`,
      );
    }
    await sleep(intervalMs);
  }
}

// ------------------------------------------------------------------------------------------------
// ports
// ------------------------------------------------------------------------------------------------

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Writes a request body: an array is sent chunk by chunk (chunked encoding), a single piece with
// content-length; trailers force chunked encoding. Rejects if the peer closed first.
export async function sendBody(req, body, trailers) {
  if (Array.isArray(body)) {
    for (const c of body) {
      req.write(c);
      await sleep(20);
    }
    if (trailers) req.addTrailers(trailers);
    req.end();
  } else if (trailers) {
    if (body !== undefined) req.write(body);
    req.addTrailers(trailers);
    req.end();
  } else {
    req.end(body); // one piece: node frames it with content-length
  }
}

export function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

// ------------------------------------------------------------------------------------------------
// upstream
// ------------------------------------------------------------------------------------------------

export async function startUpstream(handler) {
  const requests = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const record = { method: req.method, path: req.url, headers: req.headers, body: '', trailers: {}, complete: false };
    requests.push(record);
    const url = new URL(req.url, 'http://upstream');
    const chunks = [];
    req.on('data', (d) => {
      chunks.push(d);
      record.body = Buffer.concat(chunks).toString('utf8');
    });
    req.on('error', () => {});
    res.on('error', () => {});

    switch (url.pathname) {
      case '/stall':
        req.resume();
        return; // never answered
      case '/reset-before-headers':
        req.socket.destroy();
        return;
      case '/reset-mid-body':
        res.writeHead(200, { 'content-type': 'text/plain' }); // chunked: no content-length
        res.write('partial-body-');
        setTimeout(() => req.socket.destroy(), 50);
        return;
      default:
        break;
    }

    req.on('end', () => {
      record.complete = true;
      record.trailers = req.trailers;
      if (url.pathname === '/chunked-trailers') {
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-up-trailer' });
        res.write('hello ');
        res.write('world');
        res.addTrailers({ 'x-up-trailer': 't' });
        res.end();
        return;
      }
      if (url.pathname === '/big') {
        const n = Number(url.searchParams.get('n') || '0');
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(n) });
        const block = Buffer.alloc(Math.min(n, 64 * 1024), 'a');
        let left = n;
        const pump = () => {
          while (left > 0) {
            const piece = left >= block.length ? block : block.subarray(0, left);
            left -= piece.length;
            if (!res.write(piece)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      if (handler) {
        handler(req, res, record);
        return;
      }
      const out = JSON.stringify({
        method: req.method,
        path: req.url,
        headers: req.headers,
        body: record.body,
        trailers: req.trailers,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(out)) });
      res.end(out);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (err, socket) => socket.destroy());
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  server.unref(); // a forgotten upstream must not keep the test process alive
  let closed = false;
  return {
    port: server.address().port,
    requests,
    server,
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        server.closeAllConnections?.();
      });
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Envoy bootstrap YAML
// ------------------------------------------------------------------------------------------------

function yamlKey(k) {
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(k) ? k : JSON.stringify(k);
}

function yamlScalar(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(String(v)); // a JSON string is a valid YAML double-quoted scalar
}

// Block-style YAML for plain JS data; every string is quoted, so nothing is re-typed by the parser.
export function toYaml(v, indent = 0) {
  const pad = ' '.repeat(indent);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return v
      .map((e) => {
        if (
          e !== null &&
          typeof e === 'object' &&
          !(Array.isArray(e) && e.length === 0) &&
          !(isPlainObject(e) && Object.keys(e).length === 0)
        ) {
          const inner = toYaml(e, indent + 2);
          return `${pad}- ${inner.slice(indent + 2)}`;
        }
        return `${pad}- ${toYaml(e, indent + 2)}`;
      })
      .join('\n');
  }
  if (isPlainObject(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined);
    if (keys.length === 0) return '{}';
    return keys
      .map((k) => {
        const e = v[k];
        if (
          e !== null &&
          typeof e === 'object' &&
          !(Array.isArray(e) && e.length === 0) &&
          !(isPlainObject(e) && Object.keys(e).length === 0)
        ) {
          return `${pad}${yamlKey(k)}:\n${toYaml(e, indent + 2)}`;
        }
        return `${pad}${yamlKey(k)}: ${toYaml(e, indent + 2)}`;
      })
      .join('\n');
  }
  return yamlScalar(v);
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function anyConfig(config) {
  if (config === undefined) return undefined;
  if (typeof config === 'string') return { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: config };
  return { '@type': 'type.googleapis.com/google.protobuf.Struct', value: config };
}

const DM_FILTER = 'type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter';
const DM_PER_ROUTE = 'type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilterPerRoute';

// trailers (default true): Envoy's HTTP/1 codecs drop trailers unless enable_trailers is set, on the
// listener's HCM for the client side and on each cluster for the upstream side; the suites want them
// passed on both sides, `trailers: false` keeps Envoy's default (dropped).
// With an admin port, stats are flushed every 0.5 s: Envoy shows histogram samples only after a
// flush (default every 5 s).
export function hostConfig(opts) {
  const {
    port,
    adminPort,
    filters = [],
    clusters = {},
    routes,
    bufferLimit,
    listenerExtra,
    bootstrapExtra,
    trailers = true,
  } = opts;
  const clusterNames = Object.keys(clusters);

  const used = new Map();
  const named = filters.map((f) => {
    let name = f.name;
    if (!name) {
      const n = (used.get(f.filterName) || 0) + 1;
      used.set(f.filterName, n);
      name = n === 1 ? f.filterName : `${f.filterName}_${n}`;
    }
    return { ...f, name };
  });

  // A filter with `typedConfig` is any other Envoy http filter (Lua, Wasm...), given as is (Envoy only).
  const httpFilters = named.map((f) =>
    f.typedConfig
      ? { name: f.name, typed_config: f.typedConfig }
      : {
          name: f.name,
          typed_config: {
            '@type': DM_FILTER,
            dynamic_module_config: {
              name: f.module,
              do_not_close: f.doNotClose === undefined ? true : f.doNotClose,
              metrics_namespace: f.metricsNamespace,
            },
            filter_name: f.filterName,
            filter_config: anyConfig(f.config),
          },
        },
  );
  httpFilters.push({
    name: 'envoy.filters.http.router',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
  });

  const routeList = (routes || [{ prefix: '/', cluster: clusterNames[0] }]).map((r) => {
    const out = { match: r.path !== undefined ? { path: r.path } : { prefix: r.prefix ?? '/' } };
    if (r.direct) {
      out.direct_response = { status: r.direct.status };
      if (r.direct.body !== undefined) out.direct_response.body = { inline_string: r.direct.body };
    } else {
      out.route = { cluster: r.cluster ?? clusterNames[0] };
      if (r.timeout !== undefined) out.route.timeout = r.timeout;
    }
    if (r.perFilter) {
      out.typed_per_filter_config = {};
      for (const [key, pf] of Object.entries(r.perFilter)) {
        const f = named.find((x) => x.name === key) || named.find((x) => x.filterName === key);
        const filterKey = f ? f.name : key;
        const entry = { '@type': DM_PER_ROUTE };
        entry.dynamic_module_config = { name: f ? f.module : 'fixture', do_not_close: true };
        if (pf.perRouteName !== undefined) entry.per_route_config_name = pf.perRouteName;
        const any = anyConfig(pf.config);
        if (any) entry.filter_config = any;
        out.typed_per_filter_config[filterKey] = entry;
      }
    }
    return out;
  });

  const listener = {
    name: 'main',
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    ...(bufferLimit !== undefined ? { per_connection_buffer_limit_bytes: bufferLimit } : {}),
    ...(listenerExtra || {}),
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type':
                'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'ingress',
              ...(trailers ? { http_protocol_options: { enable_trailers: true } } : {}),
              route_config: {
                name: 'local',
                virtual_hosts: [{ name: 'all', domains: ['*'], routes: routeList }],
              },
              http_filters: httpFilters,
            },
          },
        ],
      },
    ],
  };

  const bootstrap = {};
  if (adminPort !== undefined) {
    bootstrap.admin = { address: { socket_address: { address: '127.0.0.1', port_value: adminPort } } };
    bootstrap.stats_flush_interval = '0.5s';
  }
  bootstrap.static_resources = {
    listeners: [listener],
    clusters: clusterNames.map((name) => ({
      name,
      connect_timeout: '5s', // Envoy's default; 1 s tripped under ASan on a loaded machine
      type: 'STATIC',
      load_assignment: {
        cluster_name: name,
        // A port, or a list of ports for a cluster with several endpoints.
        endpoints: [
          {
            lb_endpoints: [clusters[name]]
              .flat()
              .map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })),
          },
        ],
      },
      ...(trailers
        ? {
            typed_extension_protocol_options: {
              'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
                '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
                explicit_http_config: { http_protocol_options: { enable_trailers: true } },
              },
            },
          }
        : {}),
    })),
  };
  Object.assign(bootstrap, bootstrapExtra || {});
  return `${toYaml(bootstrap)}\n`;
}

// ------------------------------------------------------------------------------------------------
// the host process
// ------------------------------------------------------------------------------------------------

const liveHosts = new Set();
process.on('exit', () => {
  for (const p of liveHosts) {
    try {
      p.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

let tmpRoot;
function tempFile(name, content) {
  tmpRoot ??= fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-host-test-'));
  const dir = fs.mkdtempSync(path.join(tmpRoot, 'h-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}
process.on('exit', () => {
  if (tmpRoot) fs.rmSync(tmpRoot, { recursive: true, force: true });
});

// Ports named in the yaml: the first port_value after `listeners:` and after `admin:`.
function portsOf(yaml) {
  const after = (marker) => {
    const i = yaml.search(marker);
    if (i < 0) return undefined;
    const m = /port_value:\s*"?(\d+)/.exec(yaml.slice(i));
    return m ? Number(m[1]) : undefined;
  };
  return { port: after(/^\s*listeners:/m), adminPort: after(/^admin:/m) };
}

/** A proxy other than the suite's own (NODEVOY_PROXY), e.g. for differential tests: 'host' or 'envoy@1.40'. */
export const proxyNamed = (spec) => makeProxy(buildDir, spec);

function spawnHost(
  yaml,
  { concurrency = 2, env = {}, args = [], check = true, searchPath, logLevel, proxy: which = proxy } = {},
) {
  const file = tempFile('envoy.yaml', yaml);
  const argv = ['-c', file, ...proxyArgs(which, { concurrency, logLevel, check }), ...args];
  // A proxy may name a wrapper to run it under (benchmarks/run.mjs: valgrind's callgrind).
  const [cmd, ...cmdArgs] = [...(which.wrapper ?? []), which.bin, ...argv];
  const proc = spawn(cmd, cmdArgs, {
    env: {
      ...process.env,
      ENVOY_DYNAMIC_MODULES_SEARCH_PATH: searchPath ?? buildDir,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveHosts.add(proc);
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    stderr += d;
    if (process.env.NODEVOY_HOST_STDERR) process.stderr.write(d);
  });
  proc.stdout.resume();
  const exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      liveHosts.delete(proc);
      // let the last stderr bytes arrive
      if (proc.stderr.readableEnded) resolve({ code, signal });
      else proc.stderr.once('end', () => resolve({ code, signal }));
    });
    proc.once('error', (err) => {
      liveHosts.delete(proc);
      stderr += `spawn error: ${err.message}\n`;
      resolve({ code: null, signal: null, error: err });
    });
  });
  return { proc, exited, stderr: () => stderr };
}

export async function startHost(yaml, opts = {}) {
  const { proc, exited, stderr } = spawnHost(yaml, opts);
  const ports = portsOf(yaml);
  const port = opts.port ?? ports.port;
  const adminPort = opts.adminPort ?? ports.adminPort;
  let exitInfo = null;
  exited.then((info) => {
    exitInfo = info;
  });

  const deadline = Date.now() + (opts.startTimeoutMs ?? 30000);
  for (;;) {
    if (exitInfo) {
      throw new Error(
        `${(opts.proxy ?? proxy).label} exited during startup (code ${exitInfo.code}, signal ${exitInfo.signal}):\n${stderr()}`,
      );
    }
    const ok = (await canConnect(port)) && (adminPort === undefined || (await canConnect(adminPort)));
    if (ok && !exitInfo) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${(opts.proxy ?? proxy).label} did not open port ${port} in time:\n${stderr()}`);
    }
    await sleep(25);
  }

  let stopping;
  return {
    port,
    adminPort,
    proc,
    exited,
    stderr,
    stop() {
      stopping ??= (async () => {
        if (!exitInfo) {
          proc.kill('SIGTERM');
          const killer = setTimeout(() => proc.kill('SIGKILL'), 20000);
          await exited;
          clearTimeout(killer);
        }
        const info = await exited;
        return info.code;
      })();
      return stopping;
    },
  };
}

export async function runHostExpectFailure(yaml, opts = {}) {
  const { proc, exited, stderr } = spawnHost(yaml, opts);
  const timeoutMs = opts.timeoutMs ?? 20000;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${(opts.proxy ?? proxy).label} did not exit within ${timeoutMs} ms:\n${stderr()}`));
    }, timeoutMs);
  });
  try {
    const { code, signal } = await Promise.race([exited, timeout]);
    return { code, signal, stderr: stderr() };
  } finally {
    clearTimeout(timer);
  }
}

export async function adminGet(adminPort, p) {
  const r = await request(adminPort, { path: p, agent: false });
  if (r.status !== 200) throw new Error(`admin ${p}: status ${r.status}`);
  return r.body;
}

// ------------------------------------------------------------------------------------------------
// clients
// ------------------------------------------------------------------------------------------------

export function request(
  port,
  { method = 'GET', path: p = '/', headers = {}, body, agent = keepAliveAgent, timeoutMs = 30000, trailers } = {},
) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers, agent });
    const timer = setTimeout(
      () => req.destroy(new Error(`request ${method} ${p} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on('response', (res) => {
      const localPort = res.socket?.localPort;
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      res.on('aborted', () => {
        clearTimeout(timer);
        reject(
          Object.assign(new Error('response aborted'), {
            code: 'ECONNRESET',
            partial: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      });
      res.on('end', () => {
        clearTimeout(timer);
        if (!res.complete) {
          reject(
            Object.assign(new Error('response incomplete'), {
              code: 'ECONNRESET',
              partial: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          return;
        }
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          trailers: res.trailers,
          reusedSocket: req.reusedSocket,
          localPort,
        });
      });
    });
    sendBody(req, body, trailers).catch(() => {});
  });
}

// Minimal HTTP/1.1 response reader over raw bytes. Returns null until one response is complete.
function parseResponse(buf, { untilClose = false, head = false } = {}) {
  const text = buf.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const lines = text.slice(0, headEnd).split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) {
      const k = l.slice(0, i).trim().toLowerCase();
      const v = l.slice(i + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
  }
  let rest = buf.subarray(headEnd + 4);
  if (head) return { status, headers, body: Buffer.alloc(0), trailers: {} };
  const trailers = {};
  if (/chunked/i.test(headers['transfer-encoding'] || '')) {
    const parts = [];
    for (;;) {
      const s = rest.toString('latin1');
      const lineEnd = s.indexOf('\r\n');
      if (lineEnd < 0) return null;
      const size = parseInt(s.slice(0, lineEnd), 16);
      if (Number.isNaN(size)) return null;
      if (size === 0) {
        // trailers then an empty line
        const tail = s.slice(lineEnd + 2);
        const end = tail.indexOf('\r\n\r\n');
        if (tail.startsWith('\r\n')) return { status, headers, body: Buffer.concat(parts), trailers };
        if (end < 0) return null;
        for (const l of tail.slice(0, end).split('\r\n')) {
          const i = l.indexOf(':');
          if (i > 0) trailers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        return { status, headers, body: Buffer.concat(parts), trailers };
      }
      if (rest.length < lineEnd + 2 + size + 2) return null;
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
  }
  if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (rest.length < n) return null;
    return { status, headers, body: rest.subarray(0, n), trailers };
  }
  if (status === 204 || status === 304 || (status >= 100 && status < 200))
    return { status, headers, body: Buffer.alloc(0), trailers };
  return untilClose ? { status, headers, body: rest, trailers } : null;
}

export function rawRequest(port, raw, { readUntilClose = false, timeoutMs = 10000 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const chunks = [];
    const isHead = /^HEAD /.test(Array.isArray(raw) ? raw[0] : raw);
    let done = false;
    let closed = false;
    let error = null;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const buf = Buffer.concat(chunks);
      const parsed = parseResponse(buf, { untilClose: closed, head: isHead });
      sock.destroy();
      resolve({
        raw: buf.toString('latin1'),
        status: parsed?.status,
        headers: parsed?.headers,
        body: parsed ? parsed.body.toString('utf8') : undefined,
        trailers: parsed?.trailers,
        closed,
        error,
      });
    };
    const timer = setTimeout(() => {
      error ??= 'ETIMEDOUT';
      finish();
    }, timeoutMs);
    sock.on('data', (d) => {
      chunks.push(d);
      if (!readUntilClose && parseResponse(Buffer.concat(chunks), { head: isHead })) finish();
    });
    sock.on('error', (e) => {
      error = e.code || e.message;
    });
    sock.on('close', () => {
      closed = true;
      finish();
    });
    sock.on('end', () => {
      closed = true;
    });
    sock.once('connect', async () => {
      const parts = Array.isArray(raw) ? raw : [raw];
      for (let i = 0; i < parts.length; i++) {
        if (done) return;
        sock.write(parts[i]);
        if (i + 1 < parts.length) await sleep(20);
      }
    });
  });
}

export function resetAfter(port, rawPartialRequest, delayMs) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const chunks = [];
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', () => {});
    sock.once('connect', () => {
      sock.write(rawPartialRequest);
      setTimeout(() => {
        if (typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy();
        else sock.destroy();
      }, delayMs);
    });
    sock.once('close', () => resolve({ received: Buffer.concat(chunks).toString('latin1') }));
    setTimeout(() => reject(new Error('resetAfter: socket did not close')), delayMs + 10000).unref();
  });
}
