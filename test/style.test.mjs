// Style is run by the build: npm test fails when a C++ file is not clang-formatted or a TS/JS file is not
// Biome-formatted or has a lint finding. The checks must also be able to fail: each is shown a bad file.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './lib/harness.mjs';
import { biomeFindings, clangFormatDrift } from '../scripts/style.mjs';

t.test('every C++, TypeScript and JavaScript file in the repository is formatted and lint-clean', async (t) => {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'style.mjs')], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
});

t.test('clang-format drift in a C++ file is caught', async (t) => {
  const probe = 'envoy-filter/style_probe.cc';
  const bad = '#include <cstdint>\nnamespace nodevoy {\nint   twice(int x){return x*2;}\n}\n';
  t.match(clangFormatDrift([probe], bad).join('\n'), /style_probe\.cc: not clang-formatted/);
  const good =
    '#include <cstdint>\nnamespace nodevoy {\nint twice(int x) {\n  return x * 2;\n}\n}  // namespace nodevoy\n';
  t.same(clangFormatDrift([probe], good), [], 'a formatted file passes');
});

t.test('unformatted and lint-dirty TypeScript is caught', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-style-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const probe = (text) => {
    fs.writeFileSync(path.join(dir, 'probe.ts'), text);
    return biomeFindings(dir).join('\n');
  };
  t.match(probe('export const x = {a:1}\n'), /probe\.ts format/);
  t.match(probe('export function f(a: number): boolean {\n  return a == 1;\n}\n'), /noDoubleEquals/);
  t.equal(probe('export const x = { a: 1 };\n'), '', 'a clean file passes');
});
