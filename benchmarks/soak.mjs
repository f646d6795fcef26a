#!/usr/bin/env node
// Soak run (issue 6, not in CI): 1,000,000 requests across a fault mix at concurrency 64 against a
// nodevoy-host with 2 workers, then the verdict:
//   - zero crashes: the host is alive at the end and exits 0 on SIGTERM;
//   - zero hung requests: every request gets a response or a reset within its deadline (wrk's
//     --timeout, 10 s, counts the ones that do not; the resetter's own requests too);
//   - responses by status match the mix (a fault answered with the wrong status is a failure);
//   - RSS at the end within 10 % of RSS after warm-up.
// Prints requests, responses by status, resets, hung, RSS warm-up vs end, duration; exits 1 if a
// criterion fails.
//
//   npm run soak [-- --requests N (1000000)] [--connections C (64)] [--resets-per-mille R (10)]
//                [--warmup N (50000)] [--seed S] [--json FILE]
//
// Load: wrk (2 threads, keep-alive) with a Lua script that picks the fault path per request and stops
// each thread after its share of the requests; in parallel a Node resetter opens its own connections
// (4 of the 64), sends a request (or part of a body) and resets the connection while the filter is
// parked. Upstream: nginx returning a static 200 (benchmarks/lib/procs.mjs), or a node:http child
// process without nginx.
//
// The filters (test/js/fault-filters.cjs): `faults` (fail_closed, paths /<kind>) and `faultsOpen`
// (fail_open, paths /open/<kind>). Kinds: pass, timer (1-3 ms), respond (403), throw, reject,
// badheader (invalid value, caught), badheader-uncaught, body (awaits a 1 KiB POST body), park
// (200 ms; the resetter's target), spin (while(true), needs sync_budget_ms), hang (never settles,
// needs async_budget_ms). The policy fields and budgets are included when the module accepts them
// (probed at start) and the run prints which were.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, hostConfig, startHost, sleep, runHostExpectFailure } from '../test/lib/harness.mjs';
import { startFastUpstream, rssKb, tempDir } from './lib/procs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const faultFilters = path.resolve(here, '..', 'test', 'js', 'fault-filters.cjs');
const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
};
const TOTAL = Number(opt('requests', 1000000));
const CONNECTIONS = Number(opt('connections', 64));
const RESETTER_CONNECTIONS = 4;
const RESETS = Math.round((TOTAL * Number(opt('resets-per-mille', 10))) / 1000);
const WARMUP = Number(opt('warmup', 50000));
const DEADLINE_S = 10;
const say = (...a) => console.error('[soak]', ...a);

// ------------------------------------------------------------------------------------------------
// what the module supports today (the policy fields landed during issue 6)
// ------------------------------------------------------------------------------------------------

async function accepts(extra) {
  const yaml = hostConfig({
    port: await freePort(),
    filters: [{ module: 'nodevoy', filterName: 'faults', config: { module: faultFilters, ...extra } }],
    clusters: { upstream: await freePort() },
  });
  // a config the module rejects makes the host exit; one it accepts keeps it running (killed after 3 s)
  const r = await runHostExpectFailure(yaml, { timeoutMs: 3000 }).catch(() => null);
  return r === null;
}

async function probe() {
  const f = {};
  f.failure_mode = await accepts({ failure_mode: 'fail_open' });
  f.failure_status = await accepts({ failure_status: 503 });
  f.sync_budget_ms = await accepts({ sync_budget_ms: 20 });
  f.async_budget_ms = await accepts({ async_budget_ms: 300 });
  return f;
}

// ------------------------------------------------------------------------------------------------
// the mix
// ------------------------------------------------------------------------------------------------

function mixFor(features) {
  // [path, weight, method, expected status]
  const failure = 500;
  const mix = [
    ['/pass', 27, 'GET', 200],
    ['/timer', 14, 'GET', 200],
    ['/respond', 9, 'GET', 403],
    ['/throw', 7, 'GET', failure],
    ['/reject', 6, 'GET', failure],
    ['/badheader', 7, 'GET', 200],
    ['/badheader-uncaught', 4, 'GET', failure],
    ['/body', 10, 'POST', 200],
    ['/park', 2, 'GET', 200],
  ];
  if (features.failure_mode) {
    // fail_open: the stream goes on untouched to the upstream
    mix.push(
      ['/open/throw', 3, 'GET', 200],
      ['/open/reject', 3, 'GET', 200],
      ['/open/badheader-uncaught', 2, 'GET', 200],
      ['/open/pass', 2, 'GET', 200],
    );
    if (features.async_budget_ms) mix.push(['/open/hang', 0.3, 'GET', 200]);
  }
  if (features.sync_budget_ms) mix.push(['/spin', 0.1, 'GET', 504]);
  if (features.async_budget_ms) mix.push(['/hang', 0.3, 'GET', 504]);
  return mix;
}

function luaScript(mix, perThread, seed) {
  const total = mix.reduce((a, m) => a + m[1], 0);
  let acc = 0;
  const rows = mix.map(([p, w, method]) => {
    acc += w / total;
    return `{ ${acc.toFixed(6)}, "${p}", "${method}" }`;
  });
  const file = path.join(tempDir('soak'), 'soak.lua');
  fs.writeFileSync(
    file,
    `
local mix = { ${rows.join(',\n  ')} }
local body = string.rep("x", 1024)
local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end
function init(args)
  math.randomseed(${seed} + id * 7919)
  statuses = {}
  responses = 0
  limit = ${perThread}
  reqs = {}
  for i, m in ipairs(mix) do
    if m[3] == "POST" then
      reqs[i] = wrk.format("POST", m[2], { ["Content-Type"] = "text/plain" }, body)
    else
      reqs[i] = wrk.format("GET", m[2])
    end
  end
end
function request()
  local r = math.random()
  for i, m in ipairs(mix) do
    if r <= m[1] then return reqs[i] end
  end
  return reqs[#reqs]
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  responses = responses + 1
  if responses == limit then
    io.stderr:write("SOAK-THREAD-DONE\\n")
    io.stderr:flush()
    wrk.thread:stop()
  end
end
function done(summary, latency, requests)
  local all = {}
  local n = 0
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do all[k] = (all[k] or 0) + v end
    n = n + t:get("responses")
  end
  local parts = {}
  for k, v in pairs(all) do table.insert(parts, string.format('"%d":%d', k, v)) end
  local e = summary.errors
  io.write(string.format('SOAKJSON {"requests":%d,"responses":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status_errors":%d,"timeout":%d,"p50":%d,"p99":%d,"max":%d,"statuses":{%s}}\\n',
    summary.requests, n, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, table.concat(parts, ",")))
end
`,
  );
  return file;
}

function runWrk(port, script, { connections, threads = 2, maxSeconds }) {
  return new Promise((resolve, reject) => {
    const args = [
      `-t${threads}`,
      `-c${connections}`,
      `-d${maxSeconds}s`,
      '--timeout',
      `${DEADLINE_S}s`,
      '-s',
      script,
      `http://127.0.0.1:${port}/`,
    ];
    if (process.env.SOAK_DEBUG) say('wrk', args.join(' '));
    const p = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let threadsDone = 0;
    p.stdout.on('data', (d) => (out += d));
    // wrk waits out its -d duration even when every thread has stopped: SIGINT ends it (summary and
    // done() still run) once each thread has made its share of the requests
    p.stderr.on('data', (d) => {
      out += d;
      threadsDone += (String(d).match(/SOAK-THREAD-DONE/g) || []).length;
      if (threadsDone >= threads) p.kill('SIGINT');
    });
    p.on('exit', (code) => {
      const m = /SOAKJSON (\{.*\})/.exec(out);
      if (!m) reject(new Error(`wrk (exit ${code}) printed no summary:\n${out}`));
      else resolve({ ...JSON.parse(m[1]), raw: out });
    });
  });
}

// ------------------------------------------------------------------------------------------------
// the resetter: its own connections, reset while the filter holds the stream
// ------------------------------------------------------------------------------------------------

function oneReset(port, kind) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let got = 0;
    const timer = setTimeout(() => {
      s.destroy();
      resolve('hung');
    }, DEADLINE_S * 1000);
    s.on('error', () => {});
    s.on('data', (d) => {
      got += d.length;
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got ? 'answered-before-reset' : 'reset');
    });
    s.on('connect', () => {
      if (kind === 'partial-body')
        s.write(`POST /body HTTP/1.1\r\nhost: soak\r\ncontent-length: 1024\r\n\r\n${'x'.repeat(100)}`);
      else if (kind === 'partial-head') s.write('GET /park HTTP/1.1\r\nhost: soak\r\nx-partial: ');
      else s.write(`GET /${kind} HTTP/1.1\r\nhost: soak\r\n\r\n`);
      setTimeout(() => s.resetAndDestroy(), 5 + Math.floor(Math.random() * 40));
    });
  });
}

async function resetter(port, count, stopAt) {
  const kinds = ['park', 'park', 'timer', 'partial-body', 'partial-head', 'open/park'];
  const out = { sent: 0, reset: 0, answered: 0, hung: 0 };
  let next = 0;
  await Promise.all(
    Array.from({ length: RESETTER_CONNECTIONS }, async () => {
      while (next < count && Date.now() < stopAt) {
        const i = next++;
        out.sent++;
        const r = await oneReset(port, kinds[i % kinds.length]);
        if (r === 'reset') out.reset++;
        else if (r === 'hung') out.hung++;
        else out.answered++;
      }
    }),
  );
  return out;
}

// ------------------------------------------------------------------------------------------------
// stall watchdog: wrk's --timeout only counts a request that gets no answer, it never gives the
// connection back. If the host stops answering altogether (every connection of a worker waiting), the
// run would sit there until wrk's -d runs out; instead, after STALL_S seconds without a new request
// counted by the host, the stall is recorded (a failure: those requests are hung) and one request on a
// fresh connection is sent, which lets the run go on so the other figures can still be measured.
// ------------------------------------------------------------------------------------------------

const STALL_S = 20;

async function requestsSeen(adminPort) {
  const body = await new Promise((resolve) => {
    const s = net.connect({ port: adminPort, host: '127.0.0.1' });
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('error', () => resolve(''));
    s.on('close', () => resolve(out));
    s.on('connect', () => s.write('GET /stats HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n'));
  });
  const m = /downstream_rq_total: (\d+)/.exec(body);
  return m ? Number(m[1]) : -1;
}

function poke(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => {
      s.destroy();
      resolve();
    }, 5000);
    s.on('error', () => {});
    s.on('data', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    s.on('connect', () => s.write('GET /pass HTTP/1.1\r\nhost: soak\r\nconnection: close\r\n\r\n'));
  });
}

function stallWatch(port, adminPort, stalls) {
  let last = -1;
  let since = Date.now();
  let busy = false;
  const iv = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const n = await requestsSeen(adminPort);
      if (n !== last) {
        last = n;
        since = Date.now();
      } else if (Date.now() - since > STALL_S * 1000) {
        stalls.push({ at: new Date().toISOString(), requestsSeen: n });
        say(
          `STALL: the host counted no new request for ${STALL_S} s (at ${n}); one request on a fresh connection to go on`,
        );
        await poke(port);
        since = Date.now();
      }
    } finally {
      busy = false;
    }
  }, 2000);
  return () => clearInterval(iv);
}

async function main() {
  const t0 = Date.now();
  const load = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  let busy = '';
  try {
    busy = execFileSync('ps', ['-eo', 'pcpu,comm', '--sort=-pcpu', '--no-headers'], { encoding: 'utf8' })
      .split('\n')
      .slice(0, 5)
      .map((l) => l.trim())
      .filter(Boolean)
      .join('; ');
  } catch {
    /* no ps */
  }
  say(`machine: ${os.cpus().length} cores, load average ${load}; top processes: ${busy}`);

  const features = await probe();
  say(
    `module supports: ${Object.entries(features)
      .map(([k, v]) => `${k}=${v ? 'yes' : 'no'}`)
      .join(', ')}`,
  );
  const mix = mixFor(features);
  const up = await startFastUpstream();
  const port = await freePort();
  const adminPort = await freePort();
  const policy = {};
  if (features.sync_budget_ms) policy.sync_budget_ms = 20;
  if (features.async_budget_ms) policy.async_budget_ms = 300;
  const filters = [
    {
      module: 'nodevoy',
      filterName: 'faults',
      config: { module: faultFilters, ...policy, ...(features.failure_mode ? { failure_mode: 'fail_closed' } : {}) },
    },
  ];
  if (features.failure_mode)
    filters.push({
      module: 'nodevoy',
      filterName: 'faultsOpen',
      config: { module: faultFilters, ...policy, failure_mode: 'fail_open' },
    });
  const host = await startHost(hostConfig({ port, adminPort, filters, clusters: { upstream: up.port } }), {
    concurrency: 2,
    logLevel: 'critical',
    check: false,
  });
  say(
    `host pid ${host.proc.pid} on :${port} (2 workers), upstream ${up.kind}; mix: ${mix.map(([p, w]) => `${p} ${w}`).join(', ')}`,
  );

  const stalls = [];
  const stopWatch = stallWatch(port, adminPort, stalls);

  // warm-up: the same mix, then the baseline RSS
  const seed = Number(opt('seed', 1));
  const warm = await runWrk(port, luaScript(mix, Math.ceil(WARMUP / 2), seed), {
    connections: CONNECTIONS - RESETTER_CONNECTIONS,
    maxSeconds: 600,
  });
  await resetter(port, Math.round(WARMUP / 100), Date.now() + 60000);
  await sleep(2000);
  const rssWarm = rssKb(host.proc.pid);
  say(
    `warm-up: ${warm.responses} responses in ${(warm.duration_us / 1e6).toFixed(1)} s; RSS ${(rssWarm / 1024).toFixed(1)} MiB`,
  );

  // the run: wrk and the resetter side by side; RSS sampled every 5 s
  const rssSamples = [];
  const sampler = setInterval(() => {
    try {
      rssSamples.push(rssKb(host.proc.pid));
    } catch {
      /* gone */
    }
  }, 5000);
  const runStart = Date.now();
  const wrkShare = TOTAL - RESETS;
  const [main, resets] = await Promise.all([
    runWrk(port, luaScript(mix, Math.ceil(wrkShare / 2), seed + 1), {
      connections: CONNECTIONS - RESETTER_CONNECTIONS,
      maxSeconds: 3600,
    }),
    resetter(port, RESETS, Date.now() + 3600 * 1000),
  ]);
  const runSeconds = (Date.now() - runStart) / 1000;
  clearInterval(sampler);
  stopWatch();
  await sleep(2000);
  const alive = host.proc.exitCode === null && host.proc.signalCode === null;
  const rssEnd = alive ? rssKb(host.proc.pid) : 0;
  const code = await host.stop();
  const { signal } = await host.exited;
  await up.stop?.();

  // the verdict
  const expectedByStatus = {};
  const totalW = mix.reduce((a, m) => a + m[1], 0);
  for (const [, w, , st] of mix) expectedByStatus[st] = (expectedByStatus[st] || 0) + w / totalW;
  const failures = [];
  if (!alive) failures.push(`host died during the run (exit ${host.proc.exitCode}, signal ${host.proc.signalCode})`);
  if (code !== 0) failures.push(`host exit code ${code} (signal ${signal}) on SIGTERM`);
  // wrk counts a stale connection once per check (every 2 s), so its timeout figure is an upper bound;
  // stalls are the times the host stopped answering altogether
  const hung = main.timeout + resets.hung;
  if (hung)
    failures.push(
      `hung requests: wrk counted ${main.timeout} timeouts (connections waiting > ${DEADLINE_S} s, counted per 2 s check), the resetter ${resets.hung}`,
    );
  if (stalls.length)
    failures.push(
      `${stalls.length} stall(s): the host answered nothing for ${STALL_S} s until a new connection arrived (${stalls.map((x) => x.at).join(', ')})`,
    );
  const socketErrors = main.connect + main.read + main.write;
  if (socketErrors)
    failures.push(
      `${socketErrors} socket errors on wrk's connections (connect ${main.connect}, read ${main.read}, write ${main.write})`,
    );
  const statusRows = [];
  for (const st of new Set([...Object.keys(main.statuses), ...Object.keys(expectedByStatus)])) {
    const got = main.statuses[st] || 0;
    const share = got / main.responses;
    const exp = expectedByStatus[st] || 0;
    statusRows.push(`${st}: ${got} (${(share * 100).toFixed(2)} %, mix ${(exp * 100).toFixed(2)} %)`);
    if (Math.abs(share - exp) > 0.005)
      failures.push(
        `status ${st}: ${(share * 100).toFixed(2)} % of responses, the mix says ${(exp * 100).toFixed(2)} %`,
      );
  }
  const growth = rssEnd / rssWarm - 1;
  if (alive && growth > 0.1)
    failures.push(
      `RSS grew ${(growth * 100).toFixed(1)} % after warm-up (${(rssWarm / 1024).toFixed(1)} -> ${(rssEnd / 1024).toFixed(1)} MiB)`,
    );
  const requests = main.responses + resets.sent;
  if (requests < TOTAL) failures.push(`only ${requests} of ${TOTAL} requests were made`);

  const hostStderr = host.stderr();
  const report = {
    requests,
    wrk: {
      responses: main.responses,
      byStatus: main.statuses,
      timeouts: main.timeout,
      socketErrors: { connect: main.connect, read: main.read, write: main.write },
      p50_ms: main.p50 / 1000,
      p99_ms: main.p99 / 1000,
      max_ms: main.max / 1000,
    },
    resetter: resets,
    hung,
    stalls,
    rss: {
      warmupMiB: +(rssWarm / 1024).toFixed(1),
      endMiB: +(rssEnd / 1024).toFixed(1),
      growthPct: +(growth * 100).toFixed(1),
      samplesMiB: rssSamples.map((k) => +(k / 1024).toFixed(1)),
    },
    durationSeconds: +runSeconds.toFixed(1),
    requestsPerSecond: Math.round(requests / runSeconds),
    totalSeconds: +((Date.now() - t0) / 1000).toFixed(1),
    features,
    mix: mix.map(([p, w, m, st]) => ({ path: p, weight: w, method: m, expect: st })),
    host: {
      exitCode: code,
      signal,
      crashLines: hostStderr
        .split('\n')
        .filter((l) => /AddressSanitizer|runtime error:|FATAL|fatal/.test(l))
        .slice(0, 5),
    },
    machine: { cores: os.cpus().length, loadAverageAtStart: load },
    failures,
  };
  if (opt('json')) fs.writeFileSync(opt('json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(
    [
      `soak: ${requests} requests in ${runSeconds.toFixed(1)} s (${report.requestsPerSecond}/s), concurrency ${CONNECTIONS} (wrk ${CONNECTIONS - RESETTER_CONNECTIONS} keep-alive + ${RESETTER_CONNECTIONS} resetting), 2 workers`,
      `  policy fields in the mix: ${
        Object.entries(features)
          .filter(([, v]) => v)
          .map(([k]) => k)
          .join(', ') || 'none (the module does not accept them yet)'
      }`,
      `  responses by status: ${statusRows.join(', ')}`,
      `  resets: ${resets.reset} of ${resets.sent} resetter requests reset in flight (${resets.answered} answered before the reset)`,
      `  hung: ${hung} (wrk timeouts ${main.timeout}, resetter ${resets.hung}); stalls: ${stalls.length}; socket errors: ${socketErrors}; latency p50 ${report.wrk.p50_ms} ms, p99 ${report.wrk.p99_ms} ms, max ${report.wrk.max_ms} ms`,
      `  RSS: ${report.rss.warmupMiB} MiB after warm-up, ${report.rss.endMiB} MiB at the end (${report.rss.growthPct >= 0 ? '+' : ''}${report.rss.growthPct} %); samples ${report.rss.samplesMiB.join(' ')}`,
      `  host: exit ${code}${signal ? ` signal ${signal}` : ''} on SIGTERM; crashes ${alive && code === 0 ? 0 : 1}`,
      `  verdict: ${failures.length ? `FAILED\n    - ${failures.join('\n    - ')}` : 'passed'}`,
    ].join('\n'),
  );
  process.exit(failures.length ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
