// The module built from the npm package's own sources (`nodevoy build-module`, cmake-js) in a user's
// project: nodevoy is installed from this repository's `npm pack` into an empty directory outside it, the
// module is compiled inside node_modules/nodevoy/build-module, and real Envoy (1.40) serves a request
// through the project's filter with that module. Missing prerequisites stop the build with CMake's message
// naming them and the fix.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, hostConfig, proxyNamed, repoRoot, request, startHost, startUpstream } from './lib/harness.mjs';
import { packedProject, sh } from './lib/project.mjs';

t.test('npm install nodevoy, nodevoy build-module, then real Envoy runs the filter with that module', async (t) => {
  if (/asan/.test(process.env.NODEVOY_BUILD || '')) {
    t.pass('runs in the plain pass: it builds and tests its own (non-ASan) module');
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-module-'));
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
  const { app } = packedProject(work, 'app', { timeout: 300000 });
  sh('npm', ['run', 'build'], app, { timeout: 300000 });
  const bin = path.join(app, 'node_modules', '.bin', 'nodevoy');
  const installed = fs.realpathSync(path.join(app, 'node_modules', 'nodevoy'));
  t.notOk(installed.startsWith(repoRoot), 'nodevoy is a copy inside the project, not this repository');

  const missing = spawnSync(bin, ['build-module'], {
    cwd: app,
    encoding: 'utf8',
    env: { ...process.env, NODEVOY_LIBNODE_PREFIX: path.join(work, 'no-libnode') },
  });
  t.equal(missing.status, 1, 'a missing libnode stops the build');
  t.match(
    missing.stderr,
    /not under\s+NODEVOY_LIBNODE_PREFIX=\S*no-libnode[\s\S]*apt-get download libnode108 libnode-dev/,
  );

  const built = sh(bin, ['build-module'], app, { timeout: 600000 });
  const so = path.join(installed, 'build-module', 'libnodevoy.so');
  t.match(built, new RegExp(so.replace(/[.]/g, '\\.')), 'the module is built inside the installed package');
  t.ok(fs.existsSync(so));

  const up = await startUpstream();
  t.teardown(() => up.close());
  const port = await freePort();
  const yaml = hostConfig({
    port,
    clusters: { upstream: up.port },
    filters: [
      {
        module: 'nodevoy',
        filterName: 'hello',
        config: { module: path.join(app, 'dist', 'filter.js'), config: { greeting: 'built here' } },
      },
    ],
  });
  const envoy = await startHost(yaml, {
    proxy: proxyNamed('envoy@1.40'),
    concurrency: 1,
    searchPath: path.dirname(so),
  });
  t.teardown(() => envoy.stop());
  const r = await request(port, { path: '/', agent: false });
  t.equal(r.status, 200);
  t.equal(r.headers['x-served-by'], 'hello');
  t.equal(
    up.requests.at(-1).headers['x-greeting'],
    'built here',
    'the filter ran in Envoy with the module built from the package',
  );
  const maps = fs.readFileSync(`/proc/${envoy.proc.pid}/maps`, 'utf8');
  t.ok(maps.includes(so), 'Envoy mapped that libnodevoy.so');
});
