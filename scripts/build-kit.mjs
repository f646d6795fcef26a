#!/usr/bin/env node
// Builds the test kit's addon (native/kit) with node-gyp for the Node running this script, from that
// Node's own headers. `--asan` builds it with AddressSanitizer and UBSan into build-asan/kit instead
// (from the same binding.gyp, its paths rebased), for test:asan, which loads it with libasan
// preloaded (NODEVOY_KIT_ADDON names it).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeGyp } from '../dist/lib/node-gyp.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const kitDir = path.join(root, 'native', 'kit');
const asan = process.argv.includes('--asan');
const nodedir = path.resolve(process.execPath, '..', '..');

let dir = kitDir;
const env = {};
if (asan) {
  dir = path.join(root, 'build-asan', 'kit');
  fs.mkdirSync(dir, { recursive: true });
  // gyp names objects after the source paths: keep them relative, to the new directory.
  const abs = (p) => (p.startsWith('<') || path.isAbsolute(p) ? p : path.relative(dir, path.resolve(kitDir, p)));
  const spec = JSON.parse(
    fs
      .readFileSync(path.join(kitDir, 'binding.gyp'), 'utf8')
      .split('\n')
      .filter((l) => !l.trim().startsWith('#'))
      .join('\n'),
  );
  for (const t of spec.targets) {
    t.sources = t.sources.map(abs);
    t.include_dirs = t.include_dirs.map(abs);
  }
  const text = `# Written by scripts/build-kit.mjs --asan from native/kit/binding.gyp.\n${JSON.stringify(spec, null, 2)}\n`;
  const file = path.join(dir, 'binding.gyp');
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) {
    fs.writeFileSync(file, text);
    fs.rmSync(path.join(dir, 'build'), { recursive: true, force: true });
  }
  // vptr: UBSan's check needs typeinfo Node does not export (V8's BackingStore behind a shared_ptr).
  const flags =
    '-fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer -fno-sanitize-recover=undefined';
  Object.assign(env, { CXXFLAGS: flags, CFLAGS: flags, LDFLAGS: '-fsanitize=address,undefined' });
}
// Quiet unless it fails (node-gyp narrates every step on stderr).
const run = (args) => {
  try {
    nodeGyp(dir, args, env);
  } catch (e) {
    console.error(`build-kit: ${e.message}`);
    process.exit(1);
  }
};
if (!fs.existsSync(path.join(dir, 'build', 'Makefile'))) run(['configure', `--nodedir=${nodedir}`]);
run(['build', '-j', '2']);
console.log(path.join(dir, 'build', 'Release', 'nodevoy_kit.node'));
