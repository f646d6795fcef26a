#!/usr/bin/env node
// The release bundle: everything Envoy needs to run nodevoy filters, relocatable, in one tarball.
//
//   node scripts/package.mjs [--out DIR] [--no-build]     (npm run package)
//
// Writes DIR/nodevoy-<version>-linux-x64.tar.gz (DIR defaults to build/package), holding one folder:
//   lib/            libnodevoy.so, Debian's libnode 18 and every shared library they need beyond glibc,
//                   each with RUNPATH $ORIGIN, so the bundle works from any directory
//   dist/lib/       the runtime JS the module loads (../dist/lib/bootstrap.js from lib/)
//   share/nodejs/   the JS builtins Debian's libnode reads from fixed paths under /usr/share/nodejs
//   manifest.json   versions, the supported Envoy range, the glibc it needs, and a sha256 per file
//   README.md       how to install it (also in the repository README, "Deploy")
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeVersionOf } from '../cli/build.mjs';
import { PINNED } from './envoy.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const libnodePrefix = process.env.NODEVOY_LIBNODE_PREFIX || '/opt/nodevoy/libnode18';
// Provided by every glibc system: never shipped (a copy would clash with the process's own).
const SYSTEM = /^(libc|libm|libdl|librt|libpthread|ld-linux-x86-64|linux-vdso)\.so/;
const BUILTINS = ['cjs-module-lexer', 'undici', 'acorn', 'acorn-walk'];

const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
const sha256 = (file) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Shared libraries `file` loads (transitively), by soname, with the path ldd resolved, glibc left out. */
function closure(file) {
  const libs = new Map();
  for (const line of run('ldd', [file]).split('\n')) {
    const m = /^\s*(\S+) => (\/\S+)/.exec(line);
    if (m && !SYSTEM.test(m[1])) libs.set(m[1], m[2]);
  }
  return libs;
}

/** The newest GLIBC_x.y symbol version any of the files needs. */
function glibcNeeded(files) {
  let best = [0, 0];
  for (const f of files) {
    for (const m of run('objdump', ['-T', f]).matchAll(/GLIBC_(\d+)\.(\d+)/g)) {
      const v = [Number(m[1]), Number(m[2])];
      if (v[0] > best[0] || (v[0] === best[0] && v[1] > best[1])) best = v;
    }
  }
  return best.join('.');
}

function debianPackageVersion() {
  const log = path.join(libnodePrefix, 'usr/share/doc/libnode108/changelog.Debian.gz');
  const first = run('zcat', [log]).split('\n')[0];
  return /\(([^)]+)\)/.exec(first)?.[1] ?? 'unknown';
}

function abiVersion() {
  const h = fs.readFileSync(path.join(root, 'envoy-filter/envoy_abi.h'), 'utf8');
  return /#define NODEVOY_ENVOY_ABI_VERSION "([^"]+)"/.exec(h)?.[1] ?? 'unknown';
}

function copyRuntime(dest) {
  const src = path.join(root, 'dist', 'lib');
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(src, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) {
        if (r !== 'testing') walk(r); // the test kit runs in the user's Node, not in Envoy
      } else if (e.name.endsWith('.js')) {
        fs.mkdirSync(path.join(dest, rel), { recursive: true });
        fs.copyFileSync(path.join(src, r), path.join(dest, r));
      }
    }
  };
  walk('');
  // The runtime is CommonJS whatever package.json sits above the folder it is unpacked into.
  fs.writeFileSync(path.join(dest, '..', 'package.json'), '{ "type": "commonjs" }\n');
}

function bundleReadme(name, manifest) {
  return `# ${name}

nodevoy ${manifest.version}: Envoy HTTP filters in TypeScript. Envoy ${manifest.envoy.supported}, linux-x64,
glibc ${manifest.glibc} or newer.

1. Unpack anywhere, e.g. /opt/nodevoy (every library finds the others through RUNPATH $ORIGIN).
2. Make share/nodejs visible at /usr/share/nodejs (Debian's libnode reads these builtins from that fixed
   path): \`ln -s /opt/nodevoy/${name}/share/nodejs/* /usr/share/nodejs/\` or copy them there.
3. Start Envoy with ENVOY_DYNAMIC_MODULES_SEARCH_PATH=/opt/nodevoy/${name}/lib and a filter config whose
   dynamic_module_config is { name: nodevoy, do_not_close: true }.

manifest.json lists every file with its sha256.
`;
}

export function buildPackage({ out = path.join(root, 'build', 'package'), build = true } = {}) {
  if (build) run('bash', [path.join(root, 'scripts', 'build.sh')], { stdio: 'inherit' });
  const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const name = `nodevoy-${version}-linux-x64`;
  const stage = path.join(out, name);
  fs.rmSync(stage, { recursive: true, force: true });
  const lib = path.join(stage, 'lib');
  fs.mkdirSync(lib, { recursive: true });

  const moduleSo = path.join(root, process.env.NODEVOY_BUILD || 'build', 'libnodevoy.so');
  if (!fs.existsSync(moduleSo)) throw new Error(`${moduleSo} is missing: build first (npm run build)`);
  const libs = new Map([['libnodevoy.so', moduleSo], ...closure(moduleSo)]);
  for (const [so, from] of libs) {
    fs.copyFileSync(from, path.join(lib, so)); // follows symlinks: the file under its soname
    fs.chmodSync(path.join(lib, so), 0o755);
    run('patchelf', ['--set-rpath', '$ORIGIN', path.join(lib, so)]);
  }

  copyRuntime(path.join(stage, 'dist', 'lib'));
  for (const b of BUILTINS) {
    fs.cpSync(path.join(libnodePrefix, 'usr/share/nodejs', b), path.join(stage, 'share/nodejs', b), {
      recursive: true,
      dereference: true,
    });
  }

  const files = {};
  const walk = (rel) => {
    for (const e of fs
      .readdirSync(path.join(stage, rel), { withFileTypes: true })
      .sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else files[r] = sha256(path.join(stage, r));
    }
  };
  walk('');
  const manifest = {
    name: 'nodevoy',
    version,
    platform: 'linux-x64',
    node: {
      version: nodeVersionOf(path.join(libnodePrefix, 'usr')),
      from: `Debian libnode108 ${debianPackageVersion()}`,
    },
    envoy: { supported: '1.39.x-1.40.x', tested: PINNED, abi: abiVersion() },
    glibc: glibcNeeded([...libs.keys()].map((so) => path.join(lib, so))),
    builtins: { path: '/usr/share/nodejs', from: 'share/nodejs', names: BUILTINS },
    module: 'lib/libnodevoy.so',
    runtime: 'dist/lib/bootstrap.js',
    files,
  };
  fs.writeFileSync(path.join(stage, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  fs.writeFileSync(path.join(stage, 'README.md'), bundleReadme(name, manifest));
  const tarball = path.join(out, `${name}.tar.gz`);
  run('tar', ['-czf', tarball, '-C', out, name]);
  fs.rmSync(stage, { recursive: true, force: true });
  return { tarball, name, manifest };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outAt = args.indexOf('--out');
  const { tarball, manifest } = buildPackage({
    out: outAt >= 0 ? path.resolve(args[outAt + 1]) : undefined,
    build: !args.includes('--no-build'),
  });
  const mb = (fs.statSync(tarball).size / 1048576).toFixed(1);
  console.log(`${tarball} (${mb} MB, ${Object.keys(manifest.files).length} files, glibc >= ${manifest.glibc})`);
}
