// `nodevoy build-module`: compiles libnodevoy.so from this package's own sources with cmake-js, into
// <package>/build-module/ (beside dist/, where the module finds its runtime JS). Prerequisites: a C++20
// compiler, CMake >= 3.20, libuv's headers, and Debian's libnode 18 (libnode108 + libnode-dev) extracted
// under NODEVOY_LIBNODE_PREFIX (default /opt/nodevoy/libnode18); CMake says how when they are missing.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const MODULE_DIR = path.join(packageRoot, 'build-module');

/** Runs cmake-js; returns the module's path, or throws with CMake's own explanation of what is missing. */
export function buildModule({
  libnodePrefix = process.env.NODEVOY_LIBNODE_PREFIX || '/opt/nodevoy/libnode18',
  print = console.log,
} = {}) {
  const cmakeJs = path.join(path.dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  const args = [
    cmakeJs,
    'rebuild',
    '--directory',
    packageRoot,
    '--out',
    MODULE_DIR,
    `--CDNODEVOY_LIBNODE_PREFIX=${libnodePrefix}`,
  ];
  print(`building libnodevoy.so with cmake-js (libnode 18 from ${libnodePrefix})`);
  const r = spawnSync(process.execPath, args, { cwd: packageRoot, encoding: 'utf8', maxBuffer: 1 << 26 });
  const so = path.join(MODULE_DIR, 'libnodevoy.so');
  if (r.error) throw r.error;
  if (r.status !== 0 || !fs.existsSync(so)) {
    const out = `${r.stdout}\n${r.stderr}`;
    const cmakeError = /CMake Error[\s\S]*?(?=\n-- Configuring incomplete|\n\S*ERR!|$)/.exec(out)?.[0];
    throw new Error(`building the module failed:\n${(cmakeError ?? out).trim().slice(-4000)}`);
  }
  return so;
}
