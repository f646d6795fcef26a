// Config reload without a restart, on real Envoy (NODEVOY_PROXY=envoy@<version>): Envoy reads its
// listener from a file (LDS from the filesystem, `path_config_source` with a `watched_directory`); each
// update is written to a temp file and renamed over lds.yaml, which fires the watch. The listener keeps
// its name and address, only the JS bundle its filter points at changes, so Envoy updates it in place
// and drains the old filter chain for --drain-time-s.
//
//   1. A -> broken -> B under steady load: a bundle with a syntax error is rejected (Envoy keeps A,
//      listener_manager.lds.update_rejected goes up, no request fails); then the swap to B: no request
//      fails, new connections get B, a stream parked in A's async handler across the swap finishes on A
//      within the drain time, one parked longer than the drain time is cut when the old chain goes.
//      Then what is left of A once Envoy destroyed its config: nothing (the main thread's environment
//      unloads A's instance at once, each worker's when it next makes a stream), and the memory A held
//      is given back.
//   2. NODEVOY_RELOAD_PUSHES (6) updates of one bundle with a new config each: each environment keeps
//      only the live config's instance, and RSS stays flat.
//   3. A bundle rewritten in place at the same path, CommonJS and ES module: new configs run the new
//      code on every worker; a syntax error written there is rejected. A worker runs the CommonJS text
//      validated for its config even if the file changed again before it loaded; an ES module loads from
//      its file (Node 18 has no supported way to compile one from a given text), so it runs the file as it is,
//      with a warning in the log.
//
// Knobs: NODEVOY_RELOAD_CONCURRENCY (2), NODEVOY_RELOAD_INFLIGHT (8 requests in flight, half on
// keep-alive connections, half on a fresh connection each), NODEVOY_RELOAD_BALLAST_MB (32 MB that
// bundle A holds per instance in each environment), NODEVOY_RELOAD_DRAIN_S (2), NODEVOY_RELOAD_PUSHES (6).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import {
  adminGet,
  freePort,
  onEnvoy,
  repoRoot,
  request,
  sleep,
  startHost,
  startUpstream,
  toYaml,
  waitFor,
} from './lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE_A = path.join(here, 'js', 'reload-a.cjs');
const BUNDLE_B = path.join(here, 'js', 'reload-b.cjs');
const BUNDLE_BROKEN = path.join(here, 'js', 'reload-broken.cjs');

const CONCURRENCY = Number(process.env.NODEVOY_RELOAD_CONCURRENCY || 2);
const INFLIGHT = Number(process.env.NODEVOY_RELOAD_INFLIGHT || 8);
const BALLAST_MB = Number(process.env.NODEVOY_RELOAD_BALLAST_MB || 32);
const DRAIN_S = Number(process.env.NODEVOY_RELOAD_DRAIN_S || 2);
const PUSHES = Number(process.env.NODEVOY_RELOAD_PUSHES || 6);

// ------------------------------------------------------------------------------------------------
// LDS from a file
// ------------------------------------------------------------------------------------------------

const DM_FILTER = 'type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter';

/** The listener `ingress` with one nodevoy filter (export `bundle` of `bundlePath`). */
function listener(port, bundlePath, config = {}) {
  return {
    '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener',
    name: 'ingress',
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type':
                'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'ingress',
              route_config: {
                name: 'local',
                virtual_hosts: [
                  { name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'upstream' } }] },
                ],
              },
              http_filters: [
                {
                  name: 'js',
                  typed_config: {
                    '@type': DM_FILTER,
                    dynamic_module_config: { name: 'nodevoy', do_not_close: true },
                    filter_name: 'bundle',
                    filter_config: {
                      '@type': 'type.googleapis.com/google.protobuf.Struct',
                      value: { module: bundlePath, config },
                    },
                  },
                },
                {
                  name: 'envoy.filters.http.router',
                  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
                },
              ],
            },
          },
        ],
      },
    ],
  };
}

/** Starts an upstream and Envoy whose only listener comes from <dir>/lds.yaml; returns helpers. */
async function startLdsEnvoy(t, firstListener, { concurrency = CONCURRENCY } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-lds-'));
  const up = await startUpstream();
  const port = await freePort();
  const adminPort = await freePort();
  const ldsPath = path.join(dir, 'lds.yaml');
  let version = 0;
  // A DiscoveryResponse; written beside and renamed over lds.yaml, the move the directory watch reports.
  const push = (l) => {
    version++;
    const tmp = path.join(dir, `.lds-${version}.tmp`);
    fs.writeFileSync(tmp, `${toYaml({ version_info: String(version), resources: [l] })}\n`);
    fs.renameSync(tmp, ldsPath);
  };
  push(firstListener(port));
  const bootstrap = {
    node: { id: 'nodevoy-reload-test', cluster: 'nodevoy' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: adminPort } } },
    dynamic_resources: {
      lds_config: {
        path_config_source: { path: ldsPath, watched_directory: { path: dir } },
        resource_api_version: 'V3',
      },
    },
    static_resources: {
      clusters: [
        {
          name: 'upstream',
          connect_timeout: '5s',
          type: 'STATIC',
          load_assignment: {
            cluster_name: 'upstream',
            endpoints: [
              {
                lb_endpoints: [
                  { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: up.port } } } },
                ],
              },
            ],
          },
        },
      ],
    },
  };
  const host = await startHost(`${toYaml(bootstrap)}\n`, {
    concurrency,
    port,
    adminPort,
    args: ['--drain-time-s', String(DRAIN_S)],
  });
  t.teardown(async () => {
    try {
      await host.stopClean();
    } finally {
      await up.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  const stats = async () => {
    const out = {};
    for (const line of (await adminGet(adminPort, '/stats?filter=listener_manager')).split('\n')) {
      const m = /^([^:]+): (\d+)$/.exec(line.trim());
      if (m) out[m[1]] = Number(m[2]);
    }
    return out;
  };
  const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${host.proc.pid}/status`, 'utf8'))[1]) / 1024;
  const workerEnvs = () =>
    host
      .stderr()
      .split('\n')
      .filter((l) => l.includes('Node.js environment ready on a worker')).length;
  return { dir, up, host, port, adminPort, push, stats, rssMb, workerEnvs };
}

/** Waits until the listener update just pushed was taken or refused; returns which. */
async function outcomeOf(env, before) {
  return waitFor(
    async () => {
      const s = await env.stats();
      if (s['listener_manager.lds.update_success'] > before['listener_manager.lds.update_success']) return 'accepted';
      if (s['listener_manager.lds.update_rejected'] > before['listener_manager.lds.update_rejected']) return 'rejected';
      return false;
    },
    { timeoutMs: 15000 },
  );
}

/** Opens fresh connections until every worker made its environment (the module logs one line each). */
async function warmAllWorkers(env, concurrency, headers = {}) {
  await waitFor(
    async () => {
      await Promise.all(Array.from({ length: 4 }, () => request(env.port, { agent: false, headers })));
      return env.workerEnvs() >= concurrency;
    },
    { timeoutMs: 30000, intervalMs: 0 },
  );
}

/**
 * Steady load: `inflight` lanes, each sending one request after another until stop(); even lanes on a
 * keep-alive agent, odd lanes on a fresh connection per request. Every outcome is recorded.
 */
function startLoad(port, inflight) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(1, Math.ceil(inflight / 2)) });
  const results = [];
  let stopping = false;
  const lanes = Array.from({ length: inflight }, async (_, lane) => {
    const fresh = lane % 2 === 1;
    for (let i = 0; !stopping; i++) {
      const started = Date.now();
      try {
        const r = await request(port, { agent: fresh ? false : agent, path: `/load/${lane}/${i}`, timeoutMs: 15000 });
        results.push({ started, ended: Date.now(), fresh, status: r.status, bundle: r.headers['x-bundle'] });
      } catch (e) {
        results.push({ started, ended: Date.now(), fresh, error: `${e.code || ''} ${e.message}` });
      }
    }
  });
  return {
    results,
    async stop() {
      stopping = true;
      await Promise.all(lanes);
      agent.destroy();
      return results;
    },
  };
}

/** Probes fresh connections until `count` different worker environments answered; by env id. */
async function probeWorkers(env, count) {
  const probes = new Map();
  await waitFor(
    async () => {
      const r = await request(env.port, { agent: false, headers: { 'x-probe': '1' } });
      probes.set(r.headers['x-env-id'], r.headers);
      return probes.size >= count;
    },
    { timeoutMs: 20000, intervalMs: 0 },
  );
  return probes;
}

/** The module's log lines saying an environment unloaded instances of destroyed configs (JsEnv::pruneRetired). */
const unloadLines = (env) =>
  env.host
    .stderr()
    .split('\n')
    .filter((l) => l.includes('filter instance(s) of destroyed configs'))
    .map((l) => l.replace(/^.*nodevoy: /, ''));

const failed = (results) => results.filter((r) => r.error || r.status !== 200);
const summary = (results) => {
  const by = {};
  for (const r of results) {
    const k = r.error ? `error(${r.error.trim()})` : `${r.status}/${r.bundle}/${r.fresh ? 'fresh' : 'keep-alive'}`;
    by[k] = (by[k] || 0) + 1;
  }
  return JSON.stringify(by);
};

// ------------------------------------------------------------------------------------------------

if (!onEnvoy) {
  t.plan(0, 'config reload through LDS needs real Envoy (NODEVOY_PROXY=envoy@<version>)');
} else {
  t.test(
    `LDS swap A -> broken -> B under load (${INFLIGHT} in flight, --concurrency ${CONCURRENCY}, --drain-time-s ${DRAIN_S})`,
    async (t) => {
      const env = await startLdsEnvoy(t, (port) => listener(port, BUNDLE_A, { ballastMb: BALLAST_MB }));
      await warmAllWorkers(env, CONCURRENCY);
      t.equal(env.workerEnvs(), CONCURRENCY, `every worker made its environment and loaded bundle A (${CONCURRENCY})`);
      const rssWithA = env.rssMb();

      const load = startLoad(env.port, INFLIGHT);
      await sleep(1000);

      // --- a broken bundle: the update is refused and A keeps serving
      let before = await env.stats();
      const tBroken = Date.now();
      env.push(listener(env.port, BUNDLE_BROKEN));
      t.equal(
        await outcomeOf(env, before),
        'rejected',
        'the listener update pointing at a bundle with a syntax error is rejected',
      );
      const afterBroken = await env.stats();
      t.equal(
        afterBroken['listener_manager.lds.update_rejected'],
        before['listener_manager.lds.update_rejected'] + 1,
        'listener_manager.lds.update_rejected went up by one',
      );
      t.equal(
        afterBroken['listener_manager.listener_modified'],
        before['listener_manager.listener_modified'],
        'the listener was not modified',
      );
      t.match(
        env.host.stderr(),
        /rejecting filter config: cannot load filter "bundle" from \S*reload-broken\.cjs: [\s\S]*SyntaxError/,
        'the module logged why (the SyntaxError)',
      );
      await sleep(500);
      const tRejected = Date.now();
      const duringBroken = load.results.filter((r) => r.started >= tBroken && r.ended <= tRejected);
      t.ok(duringBroken.length > 0, `requests were served across the rejected update (${duringBroken.length})`);
      t.same(failed(duringBroken), [], 'none of them failed');
      t.ok(
        duringBroken.every((r) => r.bundle === 'A'),
        'all of them were served by bundle A',
      );

      // --- the swap to B, with two streams parked in A's async handler
      const shortPark = 1500; // finishes within the drain time
      const longPark = (DRAIN_S + 3) * 1000; // outlives the old filter chain
      let longStarted = 0;
      const parked = (ms) => {
        const started = Date.now();
        if (ms === longPark) longStarted = started;
        return request(env.port, {
          agent: false,
          path: `/parked/${ms}`,
          headers: { 'x-delay-ms': String(ms) },
          timeoutMs: longPark + 10000,
        }).then(
          (r) => ({ started, ended: Date.now(), status: r.status, bundle: r.headers['x-bundle'] }),
          (e) => ({ started, ended: Date.now(), error: e.code || e.message }),
        );
      };
      const short = parked(shortPark);
      const long = parked(longPark);
      await sleep(200); // both are parked in A's handler now
      before = await env.stats();
      const tSwap = Date.now();
      env.push(listener(env.port, BUNDLE_B));
      t.equal(await outcomeOf(env, before), 'accepted', 'the listener update pointing at bundle B is accepted');
      const tAccepted = Date.now();
      const s1 = await env.stats();
      t.ok(
        s1['listener_manager.listener_in_place_updated'] + s1['listener_manager.listener_modified'] >
          before['listener_manager.listener_in_place_updated'] + before['listener_manager.listener_modified'],
        'Envoy updated the listener (no restart)',
      );
      // The old filter chain drains, then Envoy drops it: the module's config for A is destroyed then.
      let sawDraining = 0;
      await waitFor(
        async () => {
          const s = await env.stats();
          const draining =
            s['listener_manager.total_filter_chains_draining'] + s['listener_manager.total_listeners_draining'];
          sawDraining = Math.max(sawDraining, draining);
          return sawDraining > 0 && draining === 0;
        },
        { timeoutMs: (DRAIN_S + 15) * 1000, intervalMs: 50 },
      );
      const tDrained = Date.now();
      t.ok(
        tDrained - tSwap >= DRAIN_S * 1000 - 200,
        `the old filter chain drained for about --drain-time-s (${tDrained - tSwap} ms)`,
      );
      await sleep(1000);
      const results = await load.stop();

      const shortR = await short;
      t.same(
        { status: shortR.status, bundle: shortR.bundle, error: shortR.error },
        { status: 200, bundle: 'A', error: undefined },
        `a stream parked ${shortPark} ms in A across the swap completed, on A`,
      );
      t.ok(
        shortR.ended > tAccepted,
        `it completed after the swap (${shortR.ended - tAccepted} ms after the update was accepted)`,
      );
      const longR = await long;
      t.ok(
        longR.error,
        `a stream parked ${longPark} ms, longer than the drain time, is cut when the old chain is removed (${longR.error ?? longR.status})`,
      );
      t.ok(
        Math.abs(longR.ended - tDrained) < 1500,
        `  ... at the end of the drain (${longR.ended - tDrained} ms from it)`,
      );

      t.ok(
        results.length > 100,
        `steady load: ${results.length} requests from ${results[0]?.started ? ((results.at(-1).ended - results[0].started) / 1000).toFixed(1) : '?'} s spanning both updates: ${summary(results)}`,
      );
      t.same(failed(results), [], 'no request of the steady load failed');
      const lateFresh = results.filter((r) => r.fresh && r.started >= tAccepted + 500);
      t.ok(
        lateFresh.length > 0 && lateFresh.every((r) => r.bundle === 'B'),
        `every fresh connection opened 0.5 s after the swap got bundle B (${lateFresh.length})`,
      );
      const afterDrain = results.filter((r) => r.started >= tDrained + 100);
      t.ok(
        afterDrain.length > 0 && afterDrain.every((r) => r.bundle === 'B'),
        `every request after the drain got bundle B (${afterDrain.length})`,
      );
      const oldKeepAlive = results.filter((r) => !r.fresh && r.started > tAccepted && r.bundle === 'A').length;
      t.comment(`keep-alive requests served by A after the swap (old connections, draining): ${oldKeepAlive}`);

      // --- what is left of A in each worker environment (probed from B), now that Envoy destroyed A's
      // filter config with its drained filter chain. The cut stream's handler is still awaiting its timer
      // (JS cannot be cancelled) and holds its ctx, and so A's config, until that timer fires: wait for it.
      await sleep(Math.max(0, longStarted + longPark + 300 - Date.now()));
      const probes = await probeWorkers(env, CONCURRENCY);
      const rssAfter = env.rssMb();
      t.comment(
        `RSS with A in every environment: ${rssWithA.toFixed(0)} MB; after the swap to B and the drain: ${rssAfter.toFixed(0)} MB` +
          ` (A holds ${BALLAST_MB} MB in each of ${CONCURRENCY + 1} environments)`,
      );
      for (const [id, h] of probes) {
        t.equal(h['x-a-made'], '1', `worker environment ${id}: A made one instance there`);
        t.equal(
          h['x-a-alive'],
          '0',
          `worker environment ${id}: A's instance is garbage-collected (alive: ${h['x-a-alive']})`,
        );
        t.equal(
          h['x-a-cached'],
          '0',
          `worker environment ${id}: bundle A left the require cache (entries: ${h['x-a-cached']})`,
        );
      }
      const unloads = unloadLines(env);
      t.comment(unloads.join('\n'));
      t.ok(
        unloads.some((l) => l.startsWith("the main thread's")),
        "the main thread's environment unloaded A's instance when Envoy destroyed A's config",
      );
      t.ok(
        unloads.filter((l) => l.startsWith("a worker's")).length >= CONCURRENCY,
        'each worker environment unloaded it at its next stream',
      );
      // Every environment collected at the unload (and the workers' again in the probes). Not all of it
      // goes back to the OS (the allocator keeps some; measured: 71-72 MB of the 96 MB on Envoy 1.40).
      const held = BALLAST_MB * (CONCURRENCY + 1);
      t.ok(
        rssAfter < rssWithA - 0.5 * held,
        `RSS fell by more than half of the ${held} MB A held (${rssWithA.toFixed(0)} -> ${rssAfter.toFixed(0)} MB)`,
      );
      t.equal(
        failed(
          await Promise.all(
            Array.from({ length: 20 }, (_, i) => request(env.port, { agent: i % 2 ? false : undefined })),
          ),
        ).length,
        0,
        'Envoy keeps serving',
      );
    },
  );

  t.test(`${PUSHES} listener updates of one bundle with a new config each`, async (t) => {
    // An xDS control plane pushes config changes for a bundle that stays; each push makes a new filter
    // config, whose instance each environment makes when it first runs a stream of it.
    const mbEach = 8;
    const env = await startLdsEnvoy(t, (port) => listener(port, BUNDLE_A, { ballastMb: mbEach, rev: 0 }));
    await warmAllWorkers(env, CONCURRENCY);
    const first = await probeWorkers(env, CONCURRENCY);
    const rss0 = env.rssMb();
    for (let rev = 1; rev <= PUSHES; rev++) {
      const before = await env.stats();
      env.push(listener(env.port, BUNDLE_A, { ballastMb: mbEach, rev }));
      t.equal(await outcomeOf(env, before), 'accepted', `update ${rev} accepted`);
      await sleep(100);
      // fresh connections land on the new filter chain, on every worker (almost surely, at 8 per worker)
      const rs = await Promise.all(Array.from({ length: 8 * CONCURRENCY }, () => request(env.port, { agent: false })));
      t.ok(
        rs.every((r) => r.status === 200 && r.headers['x-bundle'] === 'A'),
        `update ${rev}: ${rs.length} requests served`,
      );
    }
    await waitFor(
      async () => {
        const s = await env.stats();
        return (
          s['listener_manager.total_filter_chains_draining'] + s['listener_manager.total_listeners_draining'] === 0
        );
      },
      { timeoutMs: (DRAIN_S + 15) * 1000, intervalMs: 50 },
    );
    const last = await probeWorkers(env, CONCURRENCY);
    const rss1 = env.rssMb();
    t.comment(
      `RSS ${rss0.toFixed(0)} MB after the first config, ${rss1.toFixed(0)} MB after ${PUSHES} more (each instance holds ${mbEach} MB)`,
    );
    for (const [id, h] of last) {
      t.ok(
        Number(h['x-a-made']) > Number(first.get(id)?.['x-a-made'] ?? 1),
        `worker environment ${id} made an instance per config it served (${h['x-a-made']})`,
      );
      t.equal(
        h['x-a-alive'],
        '1',
        `worker environment ${id}: only the live config's instance is left (alive: ${h['x-a-alive']} of ${h['x-a-made']})`,
      );
      t.equal(
        h['x-a-cached'],
        '1',
        `worker environment ${id}: the bundle, still used by the live config, stays cached once (entries: ${h['x-a-cached']})`,
      );
    }
    t.ok(
      rss1 - rss0 < 2 * mbEach * (CONCURRENCY + 1),
      `RSS did not grow with each update (+${(rss1 - rss0).toFixed(0)} MB)`,
    );
  });

  for (const kind of ['cjs', 'mjs']) {
    t.test(
      `a bundle rewritten in place at the same path, then a listener update (${kind === 'cjs' ? 'CommonJS' : 'ES module'})`,
      async (t) => {
        // The usual deploy: rebuild dist/index.js where it is and push a config that points at it. The
        // bundle lives in a temp dir, so it names the SDK by its absolute path.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-bundle-'));
        t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
        const bundle = path.join(dir, `filter.${kind}`);
        const sdk = JSON.stringify(path.join(repoRoot, 'dist', 'lib', 'index.js'));
        const writeBundle = (tag) => {
          const def = `defineFilter({ onResponseHeaders(res) { res.headers.set('x-bundle', ${JSON.stringify(tag)}); } })`;
          fs.writeFileSync(
            bundle,
            kind === 'cjs'
              ? `const { defineFilter } = require(${sdk});\nexports.bundle = ${def};\n`
              : `import sdk from ${sdk};\nconst { defineFilter } = sdk;\nexport const bundle = ${def};\n`,
          );
        };
        writeBundle('v1');
        const env = await startLdsEnvoy(t, (port) => listener(port, bundle, { rev: 1 }));
        await warmAllWorkers(env, CONCURRENCY);
        const tally = async (n) => {
          const out = {};
          for (let i = 0; i < n; i++) {
            const r = await request(env.port, { agent: false });
            const k = r.status === 200 ? r.headers['x-bundle'] : `status ${r.status}`;
            out[k] = (out[k] || 0) + 1;
          }
          return out;
        };
        t.same(Object.keys(await tally(10)), ['v1'], 'every worker serves v1');

        // A new build at the same path, and a config change so that Envoy makes a new filter config.
        writeBundle('v2');
        let before = await env.stats();
        env.push(listener(env.port, bundle, { rev: 2 }));
        t.equal(await outcomeOf(env, before), 'accepted', 'the update is accepted');
        await sleep(DRAIN_S * 1000 + 500);
        const seen = await tally(30);
        t.same(seen, { v2: 30 }, `new streams run the new code (seen: ${JSON.stringify(seen)})`);

        // v3, validated by the update; then v4 lands on disk before any worker made a stream of the new
        // config. A worker compiles the CommonJS text the main thread validated; an ES module loads from
        // its file, so there the workers run v4 and say so (README, "Rewriting a bundle in place").
        writeBundle('v3');
        before = await env.stats();
        env.push(listener(env.port, bundle, { rev: 3 }));
        t.equal(await outcomeOf(env, before), 'accepted', 'the update to v3 is accepted');
        writeBundle('v4');
        const loaded = await tally(30);
        const current = kind === 'cjs' ? 'v3' : 'v4';
        if (kind === 'cjs') {
          t.same(
            loaded,
            { v3: 30 },
            `workers run v3, the version validated, though v4 was on disk when they loaded it (seen: ${JSON.stringify(loaded)})`,
          );
        } else {
          t.same(
            loaded,
            { v4: 30 },
            `workers import the file as it is when they load it: v4 (seen: ${JSON.stringify(loaded)})`,
          );
          t.match(
            env.host.stderr(),
            /filter\.mjs changed on disk since its config was validated/,
            'and log that it is not the text validated',
          );
        }

        // The same path, now with a syntax error.
        fs.writeFileSync(bundle, kind === 'cjs' ? 'exports.bundle = {;\n' : 'export const bundle = {;\n');
        before = await env.stats();
        env.push(listener(env.port, bundle, { rev: 4 }));
        const outcome = await outcomeOf(env, before);
        t.equal(outcome, 'rejected', `an update whose bundle has a syntax error is rejected (it was ${outcome})`);
        const after = await tally(20);
        t.same(
          after,
          { [current]: 20 },
          `traffic is unaffected: ${current} still serves (seen: ${JSON.stringify(after)})`,
        );
      },
    );
  }
}
