#!/usr/bin/env node
// Compiles the example filters: `npx tsc -p examples/<name>/tsconfig.json` for each, into
// examples/<name>/dist/filter.js. Needs the SDK's types built first (dist/lib/index.d.ts: `npm run build`).
//
//   node examples/build.mjs             compile every example
//   node examples/build.mjs --if-stale  only those whose dist/filter.js is missing or older than their
//                                       sources, their tsconfig or the SDK's dist/lib/index.d.ts
//   node examples/build.mjs auth-jwt    only the named ones
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const EXAMPLES = ['auth-jwt', 'body-transform', 'rate-limit'];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const sdkTypes = path.join(root, 'dist', 'lib', 'index.d.ts');

const mtime = (f) => {
  try {
    return fs.statSync(f).mtimeMs;
  } catch {
    return undefined;
  }
};

export function isStale(name) {
  const dir = path.join(root, 'examples', name);
  const out = mtime(path.join(dir, 'dist', 'filter.js'));
  if (out === undefined) return true;
  const inputs = [
    path.join(dir, 'tsconfig.json'),
    path.join(root, 'tsconfig.json'),
    sdkTypes,
    ...fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join(dir, f)),
  ];
  return inputs.some((f) => (mtime(f) ?? 0) > out);
}

export function buildExamples({ ifStale = false, only = EXAMPLES, log = console.log } = {}) {
  if (mtime(sdkTypes) === undefined) throw new Error(`${sdkTypes} is missing: build the SDK first (npm run build)`);
  const built = [];
  for (const name of only) {
    if (!EXAMPLES.includes(name)) throw new Error(`unknown example "${name}" (known: ${EXAMPLES.join(', ')})`);
    if (ifStale && !isStale(name)) continue;
    log(`tsc -p examples/${name}/tsconfig.json`);
    execFileSync(process.execPath, [tsc, '-p', path.join('examples', name, 'tsconfig.json')], {
      cwd: root,
      stdio: 'inherit',
    });
    // Staleness goes by mtime: mark the output as built now.
    const out = path.join(root, 'examples', name, 'dist', 'filter.js');
    const now = new Date();
    fs.utimesSync(out, now, now);
    built.push(name);
  }
  return built;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const only = args.filter((a) => !a.startsWith('--'));
  try {
    buildExamples({ ifStale: args.includes('--if-stale'), only: only.length ? only : EXAMPLES });
  } catch (e) {
    console.error(`examples/build.mjs: ${e.message}`);
    process.exit(1);
  }
}
