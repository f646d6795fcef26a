#!/usr/bin/env node
// Body throughput through nodevoy-host (the ABI test host, 1 worker): a 64 MiB request body streamed
// through a JS chunk transform (uppercase, test/js/api-filters.cjs `copyMeter`) and 1 MiB bodies read
// whole (`wholeMeter`), next to the same bodies with no filter, side by side in one run. Reports MB/s and
// the body bytes nodevoy copied into the JS heap (the filters read the module's own counter).
// Usage: node benchmarks/body-throughput.mjs [--rounds 3]
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, hostConfig, startHost, request } from '../test/lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const bundle = path.join(here, '..', 'test', 'js', 'api-filters.cjs');
const i = process.argv.indexOf('--rounds');
const rounds = i > 0 ? Number(process.argv[i + 1]) : 3;

// A sink upstream: counts bytes, keeps nothing.
const sink = http.createServer((req, res) => {
  let n = 0;
  req.on('data', (d) => {
    n += d.length;
  });
  req.on('end', () => res.end(String(n)));
});
await new Promise((r) => sink.listen(0, '127.0.0.1', r));

async function host(filters) {
  const port = await freePort();
  const h = await startHost(hostConfig({ port, filters, clusters: { sink: sink.address().port } }), {
    concurrency: 1,
    check: false,
    logLevel: 'error',
  });
  return { port, h };
}
const js = (filterName) => [{ module: 'nodevoy', filterName, config: { module: bundle, config: {} } }];

const mib = 1 << 20;
const block = Buffer.alloc(mib);
for (let k = 0; k < mib; k++) block[k] = 97 + (k % 26);
const big = Buffer.concat(Array.from({ length: 64 }, () => block)); // 64 MiB in one write: the client does not pace it

async function measure(port, body, bytes, n) {
  let copied = 0;
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < n; k++) {
    const r = await request(port, { method: 'POST', path: '/b', body, timeoutMs: 300000 });
    if (r.status !== 200 || Number(r.body) !== bytes)
      throw new Error(`bad response ${r.status} ${r.body.slice(0, 80)}`);
    copied += Number(r.headers['x-copied'] ?? 0);
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { mbps: (bytes * n) / s / 1e6, copiedPerRequest: copied / n };
}

const configs = [
  ['64 MiB streamed, no filter', [], big, 64 * mib, 2],
  ['64 MiB streamed through a JS chunk handler that only reads', js('chunkStats'), big, 64 * mib, 2],
  ['64 MiB streamed through a JS chunk transform', js('copyMeter'), big, 64 * mib, 2],
  ['1 MiB whole, no filter', [], block, mib, 50],
  ['1 MiB read whole by JS (body.bytes())', js('wholeMeter'), block, mib, 50],
];
const results = new Map(configs.map(([name]) => [name, []]));
const hosts = [];
for (const [name, filters] of configs) hosts.push({ name, ...(await host(filters)) });
for (let r = 0; r < rounds; r++) {
  for (const [idx, [name, , body, bytes, n]] of configs.entries())
    results.get(name).push(await measure(hosts[idx].port, body, bytes, n));
}
for (const h of hosts) await h.h.stop();
sink.close();
console.log(`| configuration | MB/s (median of ${rounds}) | body bytes copied into the JS heap per request |`);
console.log('|---|---|---|');
for (const [name, rs] of results) {
  const mbps = rs.map((x) => x.mbps).sort((a, b) => a - b)[Math.floor(rs.length / 2)];
  console.log(`| ${name} | ${mbps.toFixed(0)} | ${name.includes('no filter') ? '–' : rs[0].copiedPerRequest} |`);
}
