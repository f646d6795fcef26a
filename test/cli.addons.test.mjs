// npm packages with native addons in a filter package, built with `nodevoy build` and served by real Envoy
// (1.40, whichever proxy the pass is for): better-sqlite3@12 (compiled from source by node-gyp; npm
// install builds it for this machine's Node 20, which Envoy's Node 18 refuses, so build rebuilds it for
// Node 18 beside the bundle) and @node-rs/xxhash (a prebuilt N-API addon, copied as it is).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  freePort,
  hostConfig,
  proxyNamed,
  repoRoot,
  request,
  runHostExpectFailure,
  startHost,
  startUpstream,
} from './lib/harness.mjs';
import { CLI } from './lib/project.mjs';

const envoy = proxyNamed('envoy@1.40');
const FILTER = `import { defineFilter } from 'nodevoy';
import Database from 'better-sqlite3';
import { xxh64 } from '@node-rs/xxhash';

// One in-memory database per Envoy worker: module state lives in each worker's environment.
const db = new Database(':memory:');
db.exec("CREATE TABLE tiers (user TEXT PRIMARY KEY, tier TEXT); INSERT INTO tiers VALUES ('ada', 'gold'), ('bob', 'free');");
const tierOf = db.prepare('SELECT tier FROM tiers WHERE user = ?');

export const tiers = defineFilter({
  onRequestHeaders(req) {
    const user = req.headers.get('x-user') ?? '';
    const row = tierOf.get(user) as { tier: string } | undefined;
    req.headers.set('x-tier', row?.tier ?? 'none');
    req.headers.set('x-user-hash', xxh64(user).toString(16));
  },
});
`;

t.test('better-sqlite3 and an N-API addon in a filter, built with nodevoy build, on real Envoy', async (t) => {
  if (/asan/.test(process.env.NODEVOY_BUILD || '')) {
    // Real Envoy cannot load an ASan module (the sanitizer runtime must come first); the plain pass runs this.
    t.pass('runs in the plain pass: real Envoy cannot load the ASan build of the module');
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-addons-'));
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
  const app = path.join(work, 'addons');
  execFileSync(process.execPath, [CLI, 'init', app, '--nodevoy', `file:${repoRoot}`]);
  fs.writeFileSync(path.join(app, 'src', 'filter.ts'), FILTER);
  // npm compiles better-sqlite3 for this machine's Node (its prebuilt download is out of reach here): with
  // Node's headers from the machine when it has them, else the install scripts are skipped.
  const machineHeaders = fs.existsSync('/usr/include/node/node_version.h');
  execFileSync(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      ...(machineHeaders ? [] : ['--ignore-scripts']),
      'better-sqlite3@12',
      '@node-rs/xxhash@1',
    ],
    {
      cwd: app,
      env: { ...process.env, ...(machineHeaders ? { npm_config_nodedir: '/usr' } : {}) },
      stdio: 'ignore',
      timeout: 600000,
    },
  );
  const built = execFileSync(process.execPath, [CLI, 'build'], { cwd: app, encoding: 'utf8', timeout: 600000 });
  t.match(built, /rebuilding better-sqlite3 for Envoy's Node 18\.\d+\.\d+ \(node-gyp\)/);
  t.match(built, /better-sqlite3: native addon \(source\), in dist\/node_modules/);
  t.match(built, /@node-rs\/xxhash: native addon \(prebuilt\), in dist\/node_modules/);
  t.ok(
    fs.existsSync(path.join(app, 'dist', 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node')),
  );

  const up = await startUpstream();
  t.teardown(() => up.close());
  const config = (module, port) =>
    hostConfig({
      port,
      clusters: { upstream: up.port },
      filters: [{ module: 'nodevoy', filterName: 'tiers', config: { module, config: {} } }],
    });

  if (machineHeaders) {
    // The same bundle beside the addon npm compiled for Node 20: Envoy's Node 18 refuses it at config time.
    const unrebuilt = path.join(app, 'unrebuilt.js');
    fs.copyFileSync(path.join(app, 'dist', 'filter.js'), unrebuilt);
    const failed = await runHostExpectFailure(config(unrebuilt, await freePort()), {
      proxy: envoy,
      concurrency: 1,
    });
    t.match(failed.stderr, /NODE_MODULE_VERSION/, "an addon built for the machine's Node is rejected, naming the ABI");
  } else
    t.comment(
      'no Node headers on this machine: npm skipped compiling better-sqlite3, so there is no Node 20 build to refuse',
    );

  const port = await freePort();
  const proc = await startHost(config(path.join(app, 'dist', 'filter.js'), port), {
    proxy: envoy,
    concurrency: 1,
  });
  t.teardown(() => proc.stop());
  for (const [user, tier] of [
    ['ada', 'gold'],
    ['bob', 'free'],
    ['eve', 'none'],
  ]) {
    const r = await request(port, { path: '/', headers: { 'x-user': user }, agent: false });
    t.equal(r.status, 200);
    const seen = up.requests.at(-1).headers;
    t.equal(seen['x-tier'], tier, `better-sqlite3 answered for ${user}`);
    t.match(seen['x-user-hash'], /^[0-9a-f]+$/, `@node-rs/xxhash hashed ${user}`);
  }
});
