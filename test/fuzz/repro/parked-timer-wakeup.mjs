#!/usr/bin/env node
// Repro (found by the header fuzzer as rare 25 s hangs): a stream parked on a timer never resumes when a
// later stream on the same worker completed while it was parked; not even the async budget (15 s)
// answers it, since that timer lives on the same stalled loop. Expected: A answers 200 after ~300 ms.
//   node test/fuzz/repro/parked-timer-wakeup.mjs
// Suspect: LoopPump::withdraw() (envoy-filter/loop_pump.cc) clears target_ when the finished stream's
// scheduler was the current target, although stream A is still live on that worker; the helper then
// marks the loop starved and waits for a new stream.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, hostConfig, request, sleep, startHost, startUpstream } from '../../lib/harness.mjs';

const bundle = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'js', 'fault-filters.cjs');
const up = await startUpstream();
const port = await freePort();
const host = await startHost(
  hostConfig({
    port,
    filters: [{ module: 'nodevoy', filterName: 'cycle', config: { module: bundle, config: {} } }],
    clusters: { upstream: up.port },
  }),
  { concurrency: 1 },
);
await request(port, { path: '/sync', agent: false }); // the worker's environment exists
let hung = 0;
for (let i = 0; i < 3; i++) {
  const t0 = Date.now();
  const a = request(port, { path: '/timer?ms=300', agent: false, timeoutMs: 20000 }).then(
    (r) => `A (awaits a 300 ms timer): ${r.status} after ${Date.now() - t0} ms`,
    (e) => {
      hung++;
      return `A (awaits a 300 ms timer): no answer (${e.message})`;
    },
  );
  await sleep(50);
  const b = await request(port, { path: '/sync', agent: false }); // B starts and completes while A is parked
  console.log(`B: ${b.status} after ${Date.now() - t0} ms; ${await a}`);
}
await host.stop();
await up.close();
console.log(hung ? `BUG: ${hung}/3 parked streams never resumed` : 'ok: every parked stream resumed');
process.exit(hung ? 1 : 0);
