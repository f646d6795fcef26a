#!/usr/bin/env node
// Memory of a real Envoy per worker: VmRSS of the Envoy process (/proc/<pid>/status) with
//   none      no dynamic module filter (the router alone)
//   native    the native fixture module's `headers` filter (test/fixture/headers.cc)
//   js        its JS twin, benchmarks/filters.cjs `rewrite`, measured once every worker's Node
//             environment exists (the module logs "Node.js environment ready on a worker" per worker)
// at --concurrency 1, 2 and 4, then the increment per worker: the RSS difference between two
// concurrency levels divided by the difference in workers.
//
//   node benchmarks/envoy-memory.mjs [--envoy 1.40] [--concurrency 1,2,4] [--runs 3] [--requests 200]
//                                    [--json FILE]
//
// --envoy picks the Envoy (scripts/envoy.mjs; default: NODEVOY_PROXY's envoy@<version>, else 1.40).
// Each configuration is its own Envoy process, started --runs times; the table shows the median.
// Before reading RSS each run sends --requests requests on fresh connections (so that every worker
// accepted connections: checked with Envoy's per-worker listener stats), waits until every worker has
// its environment (js), then 1 s, and takes the median of 5 readings 100 ms apart. The RSS right after
// start-up (before any request) is reported too: with the JS filter it already holds the main
// thread's environment, which loaded the bundle to validate the config.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
};
const envoyVersion = opt('envoy', /^envoy@(.+)$/.exec(process.env.NODEVOY_PROXY || '')?.[1] || '1.40');
process.env.NODEVOY_PROXY = `envoy@${envoyVersion}`; // read by the harness when it is imported
const concurrencies = opt('concurrency', '1,2,4').split(',').map(Number);
const runs = Number(opt('runs', 3));
const requests = Number(opt('requests', 200));
const jsonOut = opt('json');

const { adminGet, freePort, hostConfig, proxy, request, sleep, startHost, startUpstream, waitFor } = await import(
  '../test/lib/harness.mjs'
);
const here = path.dirname(fileURLToPath(import.meta.url));
const JS_BUNDLE = path.join(here, 'filters.cjs');

const MODES = {
  none: { label: 'no filter', filters: [] },
  native: {
    label: 'native fixture `headers`',
    filters: [
      {
        module: 'fixture',
        filterName: 'headers',
        config: { request_set: { 'x-added': 'yes' }, request_remove: ['x-remove'], response_set: { 'x-resp': '1' } },
      },
    ],
  },
  js: {
    label: 'JS `rewrite` (benchmarks/filters.cjs)',
    filters: [{ module: 'nodevoy', filterName: 'rewrite', config: { module: JS_BUNDLE, config: {} } }],
  },
};

const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mb = (kb) => (kb / 1024).toFixed(1);

async function measure(mode, concurrency, up) {
  const port = await freePort();
  const adminPort = await freePort();
  const yaml = hostConfig({ port, adminPort, clusters: { upstream: up.port }, filters: MODES[mode].filters });
  const host = await startHost(yaml, { concurrency, logLevel: 'info' });
  try {
    await sleep(500);
    const startup = rssKb(host.proc.pid);
    const perWorker = async () => {
      const out = (await adminGet(adminPort, '/stats?filter=downstream_cx_total')).split('\n');
      return out.filter((l) => /^listener\.127\.0\.0\.1_\d+\.worker_\d+\.downstream_cx_total: [1-9]/.test(l.trim()))
        .length;
    };
    let sent = 0;
    const batch = async (n) => {
      const rs = await Promise.all(
        Array.from({ length: n }, () => request(port, { agent: false, headers: { 'x-remove': '1' } })),
      );
      sent += n;
      const bad = rs.filter((r) => r.status !== 200);
      if (bad.length)
        throw new Error(`${mode} c=${concurrency}: ${bad.length} requests failed (status ${bad[0].status})`);
    };
    for (let i = 0; i < requests; i += 10) await batch(Math.min(10, requests - i));
    await waitFor(
      async () => {
        if ((await perWorker()) >= concurrency) return true;
        await batch(10);
        return false;
      },
      { timeoutMs: 30000, intervalMs: 0 },
    );
    if (mode === 'js') {
      await waitFor(
        () =>
          host
            .stderr()
            .split('\n')
            .filter((l) => l.includes('Node.js environment ready on a worker')).length >= concurrency,
        { timeoutMs: 30000 },
      );
    }
    const envs = host
      .stderr()
      .split('\n')
      .filter((l) => l.includes('Node.js environment ready')).length;
    await sleep(1000);
    const readings = [];
    for (let i = 0; i < 5; i++) {
      readings.push(rssKb(host.proc.pid));
      await sleep(100);
    }
    return { startup, rss: median(readings), sent, envs };
  } finally {
    const code = await host.stop();
    if (code !== 0)
      throw new Error(`${proxy.label} (${mode}, c=${concurrency}) exited ${code}:\n${host.stderr().slice(-3000)}`);
  }
}

const up = await startUpstream();
const results = {};
for (const mode of Object.keys(MODES)) {
  results[mode] = {};
  for (const c of concurrencies) {
    const samples = [];
    for (let r = 0; r < runs; r++) samples.push(await measure(mode, c, up));
    results[mode][c] = {
      rssKb: median(samples.map((s) => s.rss)),
      startupKb: median(samples.map((s) => s.startup)),
      samplesKb: samples.map((s) => s.rss),
      envs: samples.map((s) => s.envs),
      requests: samples.map((s) => s.sent),
    };
    process.stderr.write(
      `${mode} c=${c}: ${samples.map((s) => mb(s.rss)).join(' / ')} MB (Node environments: ${samples.map((s) => s.envs).join(' / ')})\n`,
    );
  }
}
await up.close();

const lines = [];
lines.push(
  `Envoy process RSS (VmRSS, MB; median of ${runs} runs), ${proxy.label}, ${
    fs
      .readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('processor')).length
  } cores`,
);
lines.push('');
lines.push(
  `| --concurrency | ${Object.keys(MODES)
    .map((m) => MODES[m].label)
    .join(' | ')} | JS at start-up (main-thread env only) | JS − native |`,
);
lines.push(
  `|---|${Object.keys(MODES)
    .map(() => '---')
    .join('|')}|---|---|`,
);
for (const c of concurrencies) {
  const row = Object.keys(MODES).map((m) => mb(results[m][c].rssKb));
  lines.push(
    `| ${c} | ${row.join(' | ')} | ${mb(results.js[c].startupKb)} | ${mb(results.js[c].rssKb - results.native[c].rssKb)} |`,
  );
}
lines.push('');
lines.push('Increment per worker (MB): RSS difference between two concurrency levels / difference in workers');
lines.push('');
lines.push(
  `| from → to | ${Object.keys(MODES)
    .map((m) => MODES[m].label)
    .join(' | ')} | JS − native, per worker |`,
);
lines.push(
  `|---|${Object.keys(MODES)
    .map(() => '---')
    .join('|')}|---|`,
);
const pairs = [];
for (let i = 0; i < concurrencies.length; i++)
  for (let j = i + 1; j < concurrencies.length; j++) pairs.push([concurrencies[i], concurrencies[j]]);
const increments = {};
for (const [a, b] of pairs) {
  const per = (m) => (results[m][b].rssKb - results[m][a].rssKb) / (b - a);
  increments[`${a}->${b}`] = Object.fromEntries(Object.keys(MODES).map((m) => [m, per(m)]));
  lines.push(
    `| ${a} → ${b} | ${Object.keys(MODES)
      .map((m) => mb(per(m)))
      .join(' | ')} | ${mb(per('js') - per('native'))} |`,
  );
}
const report = lines.join('\n');
process.stdout.write(`${report}\n`);
if (jsonOut)
  fs.writeFileSync(
    jsonOut,
    JSON.stringify({ proxy: proxy.label, runs, requests, concurrencies, results, increments }, null, 2),
  );
