// The module's lifecycle in real Envoy (NODEVOY_PROXY=envoy@<version>), with a JS filter whose
// handler is async (test/js/reload-a.cjs: `x-delay-ms: N` parks the request headers N ms on a timer).
//
//   (a) one Node environment per worker: at --concurrency 1, 2 and 4, once every worker served a
//       stream, the module logged "Node.js environment ready on a worker" once per worker (each on its
//       own thread) and "... on the main thread" once; more traffic makes no more.
//   (b) stopping with traffic in flight: NODEVOY_CYCLES Envoy runs (default 50), alternately ended by
//       SIGTERM and by the admin's POST /quitquitquit, concurrency rotating 1, 2, 4, each stopped while
//       requests are parked in the async handler, waiting on a slow upstream, and streaming on keep-alive
//       connections (every fourth cycle stops 30 ms after the traffic starts, while workers may still be
//       making their environments). Every run must exit 0, with no signal and no crash report in its log.
import t from 'tap';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  adminGet,
  freePort,
  hostConfig,
  onEnvoy,
  proxy,
  request,
  sleep,
  startHost,
  startUpstream,
  waitFor,
} from './lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = path.join(here, 'js', 'reload-a.cjs');
const CYCLES = Number(process.env.NODEVOY_CYCLES || 50);
const CONCURRENCIES = [1, 2, 4];

const ENV_WORKER = /\[(\d+)\]\[info\]\[dynamic_modules\] nodevoy: Node\.js environment ready on a worker/;
const ENV_MAIN = /\[(\d+)\]\[info\]\[dynamic_modules\] nodevoy: Node\.js environment ready on the main thread/;
// What a crash leaves in Envoy's log: its signal handler's report ("Caught Segmentation fault, ...",
// "Backtrace (use tools/stack_decode.py ...)"), an abort, or Node/V8's fatal errors. (The start-up list
// of extensions names envoy.watchdog.backtrace_action: not a crash.)
const CRASH =
  /Caught (Segmentation fault|Abort|Bus error|Illegal instruction|Floating point exception)|backtrace(?!_action)|terminate called|Assertion .* failed|FATAL ERROR|Fatal error in|Check failed|AddressSanitizer/i;

const lines = (text, re) => text.split('\n').filter((l) => re.test(l));

async function startEnvoy(t, concurrency) {
  const up = await startUpstream((req, res) => {
    // /slow: the upstream answers after 4 s (a request in flight upstream when Envoy stops)
    const ms = req.url.startsWith('/slow') ? 4000 : 0;
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    }, ms);
  });
  const port = await freePort();
  const adminPort = await freePort();
  const yaml = hostConfig({
    port,
    adminPort,
    clusters: { upstream: up.port },
    filters: [{ module: 'nodevoy', filterName: 'bundle', config: { module: BUNDLE, config: {} } }],
  });
  const host = await startHost(yaml, { concurrency });
  t.teardown(async () => {
    await host.stop();
    await up.close();
  });
  return { up, host, port, adminPort };
}

async function counters(adminPort, filter) {
  const out = {};
  for (const line of (await adminGet(adminPort, `/stats?filter=${encodeURIComponent(filter)}`)).split('\n')) {
    const m = /^([^:]+): (\d+)$/.exec(line.trim());
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** Waits for the process to end; SIGKILLs it after timeoutMs (then the result has killed: true). */
async function exitOf(host, timeoutMs = 20000) {
  let timer;
  const timeout = new Promise((r) => {
    timer = setTimeout(() => r(null), timeoutMs);
  });
  const info = await Promise.race([host.exited, timeout]);
  clearTimeout(timer);
  if (info) return info;
  host.proc.kill('SIGKILL');
  return { ...(await host.exited), killed: true };
}

if (!onEnvoy) {
  t.plan(0, 'the module lifecycle in Envoy needs real Envoy (NODEVOY_PROXY=envoy@<version>)');
} else {
  for (const concurrency of CONCURRENCIES) {
    t.test(
      `--concurrency ${concurrency}: one Node environment per worker that served a stream, one on the main thread`,
      async (t) => {
        const { host, port, adminPort } = await startEnvoy(t, concurrency);
        // Fresh connections, several at a time, until the kernel spread them over every worker.
        const perWorker = async () => {
          const c = await counters(adminPort, 'downstream_cx_total');
          return Object.entries(c).filter(
            ([k]) => /\.worker_\d+\.downstream_cx_total$/.test(k) && k.startsWith('listener.127.0.0.1_'),
          );
        };
        // startHost's readiness probe opened (and closed) a connection without a request: only connections
        // accepted from here on count as a worker having served a stream.
        const base = Object.fromEntries(await perWorker());
        const perWorkerSinceStart = async () => (await perWorker()).map(([k, n]) => [k, n - (base[k] ?? 0)]);
        let sent = 0;
        let wrong = 0;
        await waitFor(
          async () => {
            const rs = await Promise.all(
              Array.from({ length: 8 }, (_, i) =>
                request(port, { agent: false, path: `/w/${sent + i}`, headers: { 'x-delay-ms': '5' } }),
              ),
            );
            sent += rs.length;
            wrong += rs.filter((r) => r.status !== 200 || r.headers['x-bundle'] !== 'A').length;
            const w = await perWorkerSinceStart();
            return w.length === concurrency && w.every(([, n]) => n > 0);
          },
          { timeoutMs: 30000, intervalMs: 0 },
        );
        t.equal(wrong, 0, `all ${sent} requests answered 200 by the JS filter`);
        const served = await perWorkerSinceStart();
        t.equal(
          served.length,
          concurrency,
          `every one of the ${concurrency} workers accepted connections (${served.map(([k, n]) => `${k.split('.').at(-2)}=${n}`).join(', ')}; ${sent} requests)`,
        );
        // Envoy's log reaches our pipe a little after the request it belongs to: wait for the lines (a missing
        // environment still fails below, after 5 s).
        await waitFor(() => lines(host.stderr(), ENV_WORKER).length >= concurrency, { timeoutMs: 5000 }).catch(
          () => {},
        );
        const workerLines = lines(host.stderr(), ENV_WORKER);
        t.equal(workerLines.length, concurrency, `"environment ready on a worker" logged ${workerLines.length} times`);
        t.equal(new Set(workerLines.map((l) => ENV_WORKER.exec(l)[1])).size, concurrency, 'each by a different thread');
        const mainLines = lines(host.stderr(), ENV_MAIN);
        t.equal(mainLines.length, 1, '"environment ready on the main thread" logged once');
        t.notOk(
          workerLines.some((l) => ENV_WORKER.exec(l)[1] === ENV_MAIN.exec(mainLines[0])?.[1]),
          'the main thread is not one of the workers',
        );

        // More traffic, keep-alive and fresh, parked and not: no new environment.
        const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
        t.teardown(() => agent.destroy());
        const more = await Promise.all(
          Array.from({ length: 64 }, (_, i) =>
            request(port, { agent: i % 2 ? agent : false, headers: { 'x-delay-ms': String(i % 4 === 0 ? 50 : 0) } }),
          ),
        );
        t.ok(
          more.every((r) => r.status === 200),
          '64 more requests answered',
        );
        t.equal(lines(host.stderr(), ENV_WORKER).length, concurrency, 'no further environment was made');
        t.equal(lines(host.stderr(), ENV_MAIN).length, 1, 'nor on the main thread');
        const nodevoyStreams = (await counters(adminPort, 'nodevoy.requests'))[
          'dynamicmodulescustom.bundle.nodevoy.requests'
        ];
        t.equal(
          nodevoyStreams,
          sent + 64,
          `every stream went through the JS filter (bundle.nodevoy.requests = ${nodevoyStreams})`,
        );
        const code = await host.stop();
        t.equal(code, 0, 'Envoy exits 0 on SIGTERM');
        t.equal(CRASH.exec(host.stderr())?.[0] ?? null, null, 'no crash report in the log');
      },
    );
  }

  t.test(
    `stopping Envoy with traffic in flight: ${CYCLES} runs, SIGTERM and POST /quitquitquit alternately`,
    async (t) => {
      const runs = [];
      for (let i = 0; i < CYCLES; i++) {
        const concurrency = CONCURRENCIES[i % CONCURRENCIES.length];
        const how = i % 2 === 0 ? 'SIGTERM' : 'quitquitquit';
        const early = i % 4 === 3; // stop right after the traffic starts: workers may be making their environments
        const run = { cycle: i + 1, concurrency, how, early };
        const started = Date.now();
        const { up, host, port, adminPort } = await startEnvoy(t, concurrency);
        const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency * 2 });
        // In flight at the stop: parked in the async handler (5 s), waiting on the upstream (4 s), and a
        // steady stream of short requests on keep-alive connections.
        const inflight = [];
        const settle = (p) =>
          p.then(
            () => 'answered',
            (e) => e.code || 'error',
          );
        for (let k = 0; k < 2 * concurrency; k++) {
          inflight.push(
            settle(
              request(port, {
                agent: false,
                path: `/parked/${k}`,
                headers: { 'x-delay-ms': '5000' },
                timeoutMs: 25000,
              }),
            ),
          );
          inflight.push(settle(request(port, { agent: false, path: `/slow/${k}`, timeoutMs: 25000 })));
        }
        let stopping = false;
        let steadyAnswered = 0;
        const steadyLanes = () =>
          Array.from({ length: concurrency * 2 }, async (_, lane) => {
            const outcomes = [];
            while (!stopping) {
              outcomes.push(
                await settle(
                  request(port, {
                    agent,
                    path: `/steady/${lane}`,
                    headers: { 'x-delay-ms': String(lane % 2 ? 1 : 0) },
                    timeoutMs: 25000,
                  }),
                ),
              );
              if (outcomes.at(-1) !== 'answered') break;
              steadyAnswered++;
            }
            return outcomes;
          });
        let steady;
        if (early) {
          steady = steadyLanes();
          await sleep(30);
        } else {
          // Every parked and slow request reached the JS filter on its worker (the module counts a stream
          // in <filter>.nodevoy.requests when it first runs it), then the steady stream runs a little.
          await waitFor(
            async () => {
              const c = await counters(adminPort, 'nodevoy.requests');
              return (c['dynamicmodulescustom.bundle.nodevoy.requests'] || 0) >= 4 * concurrency;
            },
            { timeoutMs: 20000 },
          );
          steady = steadyLanes();
          await waitFor(() => steadyAnswered >= 2 * concurrency, { timeoutMs: 20000, intervalMs: 5 });
          run.active = (await counters(adminPort, 'http.ingress.downstream_rq_active'))[
            'http.ingress.downstream_rq_active'
          ];
        }
        run.envs = lines(host.stderr(), ENV_WORKER).length;
        if (how === 'SIGTERM') host.proc.kill('SIGTERM');
        else
          run.adminStatus = await request(adminPort, { method: 'POST', path: '/quitquitquit', agent: false }).then(
            (r) => r.status,
            (e) => e.code,
          );
        const exit = await exitOf(host);
        stopping = true;
        const outcomes = [...(await Promise.all(inflight)), ...(await Promise.all(steady)).flat()];
        agent.destroy();
        await up.close();
        run.code = exit.code;
        run.signal = exit.signal;
        run.killed = Boolean(exit.killed);
        run.crash = CRASH.exec(host.stderr())?.[0] ?? null;
        run.answered = outcomes.filter((o) => o === 'answered').length;
        run.cut = outcomes.length - run.answered;
        run.ms = Date.now() - started;
        runs.push(run);
        if (run.code !== 0 || run.signal || run.crash)
          t.comment(`cycle ${run.cycle} log tail:\n${host.stderr().slice(-4000)}`);
      }
      const row = (r) =>
        `${String(r.cycle).padStart(2)}  c=${r.concurrency}  ${r.how.padEnd(12)} ${r.early ? 'early' : `active=${String(r.active).padEnd(3)}`}` +
        ` envs=${r.envs}  exit=${r.code}${r.signal ? ` signal=${r.signal}` : ''}${r.killed ? ' KILLED' : ''}${r.crash ? ` CRASH(${r.crash})` : ''}` +
        `  answered=${r.answered} cut=${r.cut}  ${r.ms} ms`;
      t.comment(`per-cycle results (${proxy.label}):\n${runs.map(row).join('\n')}`);
      const codes = runs.map((r) => r.code);
      t.same(
        codes,
        runs.map(() => 0),
        `every run exited 0 (exit codes: ${codes.join(' ')})`,
      );
      t.same(
        runs.filter((r) => r.signal || r.killed).map((r) => r.cycle),
        [],
        'no run ended by a signal or needed SIGKILL',
      );
      t.same(
        runs.filter((r) => r.crash).map((r) => `${r.cycle}: ${r.crash}`),
        [],
        'no crash report in any log',
      );
      t.ok(
        runs.filter((r) => !r.early).every((r) => r.active >= 4 * r.concurrency),
        'every non-early run had at least 4 streams per worker active when it was stopped',
      );
      const q = runs.filter((r) => r.how === 'quitquitquit');
      t.ok(
        q.every((r) => r.adminStatus === 200 || typeof r.adminStatus === 'string'),
        `/quitquitquit answered 200 or the connection closed as Envoy went (${[...new Set(q.map((r) => r.adminStatus))].join(', ')})`,
      );
    },
  );
}
