// What this run tests against: the repository, the build directory and the proxy (nodevoy-host by default,
// a real Envoy with NODEVOY_PROXY=envoy@<version>).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeProxy } from './proxy.mjs';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const buildDir = path.resolve(repoRoot, process.env.NODEVOY_BUILD || 'build');
// The proxy under test: nodevoy-host by default, a real Envoy with NODEVOY_PROXY=envoy@<version>.
export const proxy = makeProxy(buildDir);
export const hostBinary = proxy.bin;
export const onEnvoy = proxy.kind === 'envoy';

/** Ends a test early on real Envoy, with the reason (host-only fault injection or checks). */
export function hostOnly(t, why) {
  if (!onEnvoy) return false;
  t.pass(`host only on ${proxy.label}: ${why}`);
  return true;
}
