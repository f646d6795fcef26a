#!/usr/bin/env node
// Smoke test of the Bazel-built module (scripts/bazel-build.sh -> build-bazel/libnodevoy.so): one real
// HTTP request through a JS filter (test/js/filters.cjs `rewrite`) on the ABI host built by CMake
// (build/nodevoy-host, or $NODEVOY_BUILD/nodevoy-host). A plain node script, not a tap suite: it is not
// matched by scripts/test.sh's glob (test/*.test.mjs), so `npm test` never runs it; .ci/run does.
//
// Two runs, each checking that the module mapped into the host is the Bazel-built file:
//   1. a temp dir holding only a copy of the Bazel .so as ENVOY_DYNAMIC_MODULES_SEARCH_PATH, with the JS
//      runtime named by NODEVOY_RUNTIME=<repo>/dist/lib/bootstrap.js;
//   2. build-bazel/ itself as the search path and no NODEVOY_RUNTIME: the module finds the runtime at
//      <dir of the .so>/../dist/lib/bootstrap.js, as it does from build/.
// Usage: node test/bazel-smoke.mjs [path/to/libnodevoy.so]   (default: build-bazel/libnodevoy.so,
//        or $NODEVOY_BAZEL_SO). Prints PASS/FAIL per run and exits non-zero on any failure.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, hostBinary, hostConfig, repoRoot, request, startHost, startUpstream } from './lib/harness.mjs';

const soPath = path.resolve(
  process.argv[2] || process.env.NODEVOY_BAZEL_SO || path.join(repoRoot, 'build-bazel', 'libnodevoy.so'),
);
const runtime = path.join(repoRoot, 'dist', 'lib', 'bootstrap.js');
const bundle = path.join(repoRoot, 'test', 'js', 'filters.cjs');

const log = (msg) => console.log(`[bazel-smoke] ${msg}`);

// The libnodevoy.so files mapped into a process.
function mappedModules(pid) {
  const maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
  return [
    ...new Set(
      maps
        .split('\n')
        .map((l) => l.split(/\s+/).slice(5).join(' '))
        .filter((p) => p.endsWith('/libnodevoy.so')),
    ),
  ];
}

async function oneRequest(label, { searchPath, env, module }) {
  const up = await startUpstream();
  let host;
  try {
    const port = await freePort();
    const adminPort = await freePort();
    const yaml = hostConfig({
      port,
      adminPort,
      filters: [{ module: 'nodevoy', filterName: 'rewrite', config: { module: bundle, config: { tag: 'bazel' } } }],
      clusters: { upstream: up.port },
    });
    host = await startHost(yaml, { searchPath, env, concurrency: 1 });
    const r = await request(port, { path: '/bazel-smoke?q=1', headers: { 'x-remove-me': '1' }, agent: false });
    assert.equal(r.status, 200, 'status');
    assert.equal(r.headers['x-js-resp'], '200', 'response header x-js-resp set by the JS filter');
    const seen = up.requests.at(-1);
    assert.ok(seen, 'the upstream saw the request');
    assert.equal(seen.headers['x-js'], 'sync:GET:/bazel-smoke?q=1', 'request header x-js set by the JS filter');
    assert.equal(seen.headers['x-config'], 'bazel', 'the filter config reached the JS filter');
    assert.ok(!('x-remove-me' in seen.headers), 'the JS filter removed x-remove-me');
    const expected = fs.realpathSync(module);
    const mapped = mappedModules(host.proc.pid).map((p) => fs.realpathSync(p));
    assert.deepEqual(mapped, [expected], `the host mapped only ${expected} (mapped: ${mapped.join(', ') || 'none'})`);
    const code = await host.stop();
    host = undefined;
    assert.equal(code, 0, 'the host exited cleanly');
    log(
      `PASS ${label}: x-js-resp=${r.headers['x-js-resp']}, upstream x-js=${seen.headers['x-js']}, module ${expected}`,
    );
    return true;
  } catch (e) {
    log(`FAIL ${label}: ${e.message}`);
    if (host) process.stderr.write(`--- nodevoy-host stderr ---\n${host.stderr().slice(-4000)}\n`);
    return false;
  } finally {
    if (host) await host.stop();
    await up.close();
  }
}

async function main() {
  for (const [what, p] of [
    ['Bazel-built module', soPath],
    ['ABI host (scripts/setup.sh builds it)', hostBinary],
    ['JS runtime (npx tsc)', runtime],
    ['filter bundle', bundle],
  ]) {
    if (!fs.existsSync(p)) {
      log(`FAIL: missing ${what}: ${p}`);
      return false;
    }
  }
  const cmakeSo = path.join(path.dirname(hostBinary), 'libnodevoy.so');
  if (fs.existsSync(cmakeSo) && fs.realpathSync(cmakeSo) === fs.realpathSync(soPath)) {
    log(`FAIL: ${soPath} is the CMake build's module, not the Bazel one`);
    return false;
  }
  log(`module ${soPath}, host ${hostBinary}`);

  // 1. a search path holding only the Bazel-built module; the runtime named explicitly.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-bazel-smoke-'));
  let ok;
  try {
    fs.copyFileSync(soPath, path.join(tmp, 'libnodevoy.so'));
    const copy = path.join(tmp, 'libnodevoy.so');
    ok = await oneRequest('temp search path + NODEVOY_RUNTIME', {
      searchPath: tmp,
      env: { NODEVOY_RUNTIME: runtime },
      module: copy,
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  // 2. the module where bazel-build.sh puts it, finding the runtime by itself (<so dir>/../dist/lib/bootstrap.js).
  const soDir = path.dirname(soPath);
  if (path.basename(soPath) !== 'libnodevoy.so') {
    log(`skip the default-runtime run: ${soPath} is not named libnodevoy.so`);
  } else if (fs.existsSync(path.join(soDir, '..', 'dist', 'lib', 'bootstrap.js'))) {
    const saved = process.env.NODEVOY_RUNTIME;
    delete process.env.NODEVOY_RUNTIME;
    try {
      ok =
        (await oneRequest(`search path ${soDir}, runtime found beside it`, {
          searchPath: soDir,
          env: {},
          module: soPath,
        })) && ok;
    } finally {
      if (saved !== undefined) process.env.NODEVOY_RUNTIME = saved;
    }
  } else {
    log(`skip the default-runtime run: no ${path.join(soDir, '..', 'dist', 'lib', 'bootstrap.js')}`);
  }
  return ok;
}

const watchdog = setTimeout(() => {
  log('FAIL: timed out after 180 s');
  process.exit(1);
}, 180_000);
watchdog.unref();

main().then(
  (ok) => {
    log(ok ? 'PASS' : 'FAIL');
    process.exit(ok ? 0 : 1);
  },
  (e) => {
    log(`FAIL: ${e.stack || e}`);
    process.exit(1);
  },
);
