// test/lib/proxy.mjs -- which proxy the end-to-end suites drive: NODEVOY_PROXY=host (nodevoy-host, the
// strict test host; the default) or envoy@<version> (a real Envoy installed by scripts/envoy.mjs, e.g.
// envoy@1.40). One suite file runs unchanged on each; scripts/test.sh runs it once per proxy.
//
//   proxy = {kind: 'host'|'envoy', version?, bin, label, wrapper?: argv prefix the binary runs under}
//   proxyArgs({concurrency, logLevel, check}) -> argv for the binary after `-c <file>`
//   hostOnly(t, why)  skips the rest of a test on Envoy, saying why (fault injection, host-only checks)
import path from 'node:path';
import { envoyPath, pinnedVersion } from '../../scripts/envoy.mjs';

function resolveProxy(spec, buildDir) {
  if (!spec || spec === 'host') return { kind: 'host', bin: path.join(buildDir, 'nodevoy-host'), label: 'host' };
  const m = /^envoy@(.+)$/.exec(spec);
  if (!m) throw new Error(`NODEVOY_PROXY=${spec}: expected "host" or "envoy@<version>"`);
  const version = pinnedVersion(m[1]) ?? m[1];
  const bin = envoyPath(m[1]);
  if (!bin) throw new Error(`NODEVOY_PROXY=${spec}: Envoy ${m[1]} is not installed (run: npm run setup)`);
  return { kind: 'envoy', version, bin, label: `envoy@${version}` };
}

export function makeProxy(buildDir, spec = process.env.NODEVOY_PROXY) {
  return resolveProxy(spec, buildDir);
}

// Envoy's log lines in the host's shape ("[time][thread][level][logger] message"), so one pattern reads
// both; hot restart off so several Envoys can run at once.
const ENVOY_LOG_FORMAT = '[%Y-%m-%d %T.%e][%t][%l][%n] %v';

export function proxyArgs(proxy, { concurrency = 2, logLevel, check = true } = {}) {
  const argv = ['--concurrency', String(concurrency)];
  if (proxy.kind === 'host') {
    if (check) argv.push('--check-lifetimes');
    if (logLevel) argv.push('--log-level', logLevel);
  } else {
    argv.push('--disable-hot-restart', '--log-format', ENVOY_LOG_FORMAT, '--log-level', logLevel ?? 'info');
  }
  return argv;
}
