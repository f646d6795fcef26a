#!/usr/bin/env node
// What a JS header-rewrite filter costs per request, next to no filter and the native fixture doing the
// same rewrite, measured side by side in one run through nodevoy-host (1 worker) with wrk as the client.
// Reports host CPU µs per request (from /proc) and the RSS a worker's Node environment adds.
// Usage: node benchmarks/header-rewrite-cost.mjs [--seconds 5] [--rounds 3]
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, hostConfig, startHost, startUpstream, request } from '../test/lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const seconds = arg('seconds', 5);
const rounds = arg('rounds', 3);
const bundle = path.join(here, 'js-filters.cjs');

const configs = {
  'no filter': [],
  'native passthrough': [{ module: 'fixture', filterName: 'passthrough', config: {} }],
  'native header rewrite': [{ module: 'fixture', filterName: 'headers', config: { request_set: { 'x-added': 'yes' }, request_remove: ['x-remove'], response_set: { 'x-resp': '1' } } }],
  'JS passthrough': [{ module: 'nodevoy', filterName: 'passthrough', config: { module: bundle } }],
  'JS header rewrite': [{ module: 'nodevoy', filterName: 'rewrite', config: { module: bundle } }],
};

function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);  // utime + stime
}
function rssKb(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}
const hz = Number(execFileSync('getconf', ['CLK_TCK']).toString());
// The upstream lives in this process: wrk must run without blocking its event loop.
const wrk = async (...args) => (await promisify(execFile)('wrk', args)).stdout;

const up = await startUpstream((req, res) => res.end('ok'));
const results = Object.fromEntries(Object.keys(configs).map((k) => [k, { cpuUs: [], rps: [] }]));
const rss = {};
for (let round = 0; round < rounds; round++) {
  for (const [name, filters] of Object.entries(configs)) {
    const port = await freePort();
    const host = await startHost(hostConfig({ port, filters, clusters: { upstream: up.port } }), { concurrency: 1, check: false, logLevel: 'warning' });
    const pid = host.proc.pid;
    const before = rssKb(pid);
    await request(port, { path: '/warm' });
    if (round === 0) rss[name] = { beforeFirstRequestKb: before, afterFirstRequestKb: rssKb(pid) };
    await wrk('-t1', '-c16', '-d1s', `http://127.0.0.1:${port}/`);  // warm-up
    const t0 = cpuTicks(pid);
    const out = await wrk('-t1', '-c16', `-d${seconds}s`, '-H', 'x-remove: 1', `http://127.0.0.1:${port}/`);
    const ticks = cpuTicks(pid) - t0;
    const reqs = Number(/(\d+) requests in/.exec(out)?.[1]);
    if (!reqs) throw new Error(`wrk measured nothing for ${name}:\n${out}`);
    results[name].cpuUs.push((ticks / hz) * 1e6 / reqs);
    results[name].rps.push(reqs / seconds);
    await host.stop();
  }
}
await up.close();
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const base = median(results['no filter'].cpuUs);
console.log(`\nhost CPU per request, median of ${rounds} alternating rounds of ${seconds}s (1 worker, wrk -c16):\n`);
console.log('| configuration | req/s | host CPU µs/req | over no filter |');
console.log('|---|---|---|---|');
for (const [name, r] of Object.entries(results)) {
  const cpu = median(r.cpuUs);
  console.log(`| ${name} | ${median(r.rps).toFixed(0)} | ${cpu.toFixed(1)} | ${(cpu - base >= 0 ? '+' : '')}${(cpu - base).toFixed(1)} µs |`);
}
const js = rss['JS passthrough'];
console.log(`\nRSS: host with the main-thread environment ${(js.beforeFirstRequestKb / 1024).toFixed(1)} MB; ` +
  `the first request creates the worker's environment: +${((js.afterFirstRequestKb - js.beforeFirstRequestKb) / 1024).toFixed(1)} MB ` +
  `(no-filter host: ${(rss['no filter'].afterFirstRequestKb / 1024).toFixed(1)} MB).`);
