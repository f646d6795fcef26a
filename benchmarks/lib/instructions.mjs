// Instructions per request under callgrind: the repeatable CPU figure of benchmarks/run.mjs.
//
// Wall-clock CPU per request on a shared 2-core VM swings by ±50 % between rounds (the proxy, wrk and the
// upstream share the cores; each wake-up of a halted vCPU costs a VM exit), which hides differences of a
// few µs. Callgrind counts the instructions the proxy process executes, in every thread (Envoy's workers,
// V8's GC helpers, the module's pump and watchdog), independent of what else the machine does. Each
// configuration runs under `valgrind --tool=callgrind --instr-atstart=no`: started and warmed up without
// instrumentation, then counted over a fixed number of sequential keep-alive requests
// (`callgrind_control -i on/off`), so start-up, JIT warm-up and connection set-up stay out of the figure.
// What it does not see: time blocked in the kernel (syscalls, wake-ups) and cache misses.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { request } from '../../test/lib/harness.mjs';
import { tempDir } from './procs.mjs';

export function callgrindAvailable() {
  return (
    spawnSync('valgrind', ['--version']).status === 0 && spawnSync('callgrind_control', ['-h']).error === undefined
  );
}

/** The proxy descriptor of `proxy` run under callgrind, writing its profile into `dir`. */
export function underCallgrind(proxy, dir) {
  return {
    ...proxy,
    wrapper: [
      'valgrind',
      '--tool=callgrind',
      '--instr-atstart=no',
      // V8 (ours and Envoy's Wasm runtime) rewrites code it generated: re-translate code that changes.
      '--smc-check=all-non-file',
      `--callgrind-out-file=${path.join(dir, 'callgrind.%p.out')}`,
    ],
    label: `${proxy.label} under callgrind`,
  };
}

/** The Ir total of each dump callgrind wrote for pid (files callgrind.<pid>.out.<n>), in dump order. */
function dumpTotals(dir, pid) {
  const prefix = `callgrind.${pid}.out.`;
  return fs
    .readdirSync(dir)
    .filter((n) => n.startsWith(prefix))
    .sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)))
    .map((f) => Number(/^totals:\s+(\d+)/m.exec(fs.readFileSync(path.join(dir, f), 'utf8'))?.[1] ?? 0));
}

/**
 * Counts instructions per request of a proxy started by `start(proxy)` (which must resolve to
 * {port, pid, stop}). `shape`: {method, headers, body}. The counted requests are split into `windows`
 * windows, each dumped on its own; the figure is their median (a GC cycle or an optimizing compile that
 * lands in one window moves that window only), with the range beside it.
 * Returns {perRequest, windows: [per request, ...], requests, warmup}.
 */
export async function countInstructions({ proxy, start, shape, warmup, requests, windows = 3 }) {
  const dir = tempDir('callgrind');
  const server = await start(underCallgrind(proxy, dir));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const perWindow = Math.max(1, Math.round(requests / windows));
  const send = async (n) => {
    for (let i = 0; i < n; i++) {
      const r = await request(server.port, {
        method: shape.method,
        path: '/',
        headers: shape.headers,
        body: shape.body,
        agent,
        timeoutMs: 60000,
      });
      if (r.status !== 200) throw new Error(`status ${r.status}: ${r.body.slice(0, 200)}`);
    }
  };
  try {
    await send(warmup);
    for (let w = 0; w < windows; w++) {
      execFileSync('callgrind_control', ['-i', 'on', String(server.pid)]);
      await send(perWindow);
      execFileSync('callgrind_control', ['-i', 'off', String(server.pid)]);
      execFileSync('callgrind_control', ['-d', String(server.pid)]);
    }
  } finally {
    agent.destroy();
    await server.stop();
  }
  const totals = dumpTotals(dir, server.pid);
  if (!process.env.NODEVOY_KEEP_CALLGRIND) fs.rmSync(dir, { recursive: true, force: true });
  else console.error(`[bench] callgrind profiles kept in ${dir}`);
  if (totals.length !== windows || totals.some((t) => !t))
    throw new Error(`callgrind wrote ${totals.length} of ${windows} counts (was instrumentation switched on?)`);
  const per = totals.map((t) => t / perWindow);
  const sorted = [...per].sort((a, b) => a - b);
  return { perRequest: sorted[Math.floor(sorted.length / 2)], windows: per, requests: perWindow * windows, warmup };
}
