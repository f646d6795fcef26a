// ABI host: finding and loading modules the way Envoy does (ENVOY_DYNAMIC_MODULES_SEARCH_PATH +
// lib<name>.so, mandatory hooks resolved at config time, config_new returning NULL rejects).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  buildDir,
  freePort,
  hostConfig,
  request,
  runHostExpectFailure,
  startHost,
  startUpstream,
} from './lib/harness.mjs';
import { fx } from './lib/setup.mjs';

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-load-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function configFor(filters) {
  const port = await freePort();
  return hostConfig({ port, filters, clusters: { upstream: 1 } });
}

t.test('a module that is not on the search path is rejected with a message', async (t) => {
  const yaml = await configFor([{ module: 'doesnotexist', filterName: 'x' }]);
  const r = await runHostExpectFailure(yaml);
  t.not(r.code, 0);
  t.equal(r.signal, null);
  t.match(r.stderr, /error initializing configuration/);
  t.match(r.stderr, /Unable to load dynamic module doesnotexist/);
  t.match(r.stderr, /libdoesnotexist\.so/);
});

t.test('the search path is honoured: lib<name>.so in ENVOY_DYNAMIC_MODULES_SEARCH_PATH', async (t) => {
  const dir = tempDir(t);
  fs.copyFileSync(path.join(buildDir, 'libfixture.so'), path.join(dir, 'librenamed.so'));
  const up = await startUpstream();
  t.teardown(() => up.close());
  const port = await freePort();
  const yaml = hostConfig({
    port,
    filters: [{ module: 'renamed', filterName: 'headers', config: { request_set: { 'x-renamed': '1' } } }],
    clusters: { upstream: up.port },
  });
  // Not found through the default search path (the build dir has no librenamed.so)...
  const miss = await runHostExpectFailure(yaml);
  t.not(miss.code, 0);
  t.match(miss.stderr, /renamed/);
  // ...found through the configured one.
  const host = await startHost(yaml, { searchPath: dir });
  t.teardown(() => host.stop());
  const r = await request(host.port, { path: '/' });
  t.equal(JSON.parse(r.body).headers['x-renamed'], '1');
  t.match(
    host.stderr(),
    new RegExp(`loaded dynamic module ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/librenamed\\.so`),
  );
  t.equal(await host.stop(), 0);
});

t.test('a module lacking a mandatory hook is rejected, naming the hook', async (t) => {
  const dir = tempDir(t);
  fs.symlinkSync(path.join(buildDir, 'libfixture_missing_hook.so'), path.join(dir, 'libmissinghook.so'));
  const yaml = await configFor([{ module: 'missinghook', filterName: 'passthrough' }]);
  const r = await runHostExpectFailure(yaml, { searchPath: dir });
  t.not(r.code, 0);
  t.equal(r.signal, null);
  t.match(r.stderr, /error initializing configuration/);
  t.match(r.stderr, /envoy_dynamic_module_on_http_filter_response_trailers/);
});

t.test('config_new returning NULL rejects the config', async (t) => {
  t.test('unknown filter name', async (t) => {
    const r = await runHostExpectFailure(await configFor([fx('no_such_filter', {})]));
    t.not(r.code, 0);
    t.equal(r.signal, null);
    t.match(r.stderr, /fixture error in config_new\(no_such_filter\): unknown filter name/, 'the module logged why');
    t.match(r.stderr, /rejected the config of http filter/);
    t.match(r.stderr, /error initializing configuration/);
  });
  t.test('invalid JSON in a StringValue', async (t) => {
    const r = await runHostExpectFailure(await configFor([fx('headers', '{not json')]));
    t.not(r.code, 0);
    t.match(r.stderr, /config_new\(headers\)/);
    t.match(r.stderr, /rejected the config of http filter/);
  });
  t.test('a config the filter does not accept (unknown key)', async (t) => {
    const r = await runHostExpectFailure(await configFor([fx('headers', { no_such_key: 1 })]));
    t.not(r.code, 0);
    t.match(r.stderr, /unknown key "no_such_key"/);
  });
  t.test('the second of two filters failing still rejects the whole config', async (t) => {
    const r = await runHostExpectFailure(
      await configFor([fx('passthrough', {}), fx('local_reply', { phase: 'nowhere' })]),
    );
    t.not(r.code, 0);
    t.match(r.stderr, /config_new\(local_reply\)/);
  });
});

t.test('a per-route config naming a module that cannot be loaded fails startup', async (t) => {
  const port = await freePort();
  const yaml = hostConfig({
    port,
    filters: [fx('per_route', {})],
    clusters: { upstream: 1 },
    routes: [{ prefix: '/', cluster: 'upstream', perFilter: { per_route: { perRouteName: 'x', config: 'ok' } } }],
  }).replace(
    // a per-route config naming a module that does not exist
    /(typed_per_filter_config:\n\s+per_route:\n\s+"@type": "[^"]+"\n\s+dynamic_module_config:\n\s+name: )"fixture"/,
    '$1"nosuchmodule"',
  );
  t.match(yaml, /nosuchmodule/);
  const r = await runHostExpectFailure(yaml);
  t.not(r.code, 0);
  t.match(r.stderr, /nosuchmodule/);
});
