#!/usr/bin/env node
// The project's style, checked or applied: clang-format (.clang-format) on every hand-written C++ file and
// Biome (biome.json: formatter and linter) on the TypeScript and JavaScript. Generated files are left to
// their generator (test/generated.test.mjs checks those).
//   node scripts/style.mjs           check; exit 1 and name every file that drifted
//   node scripts/style.mjs --fix     rewrite the files in place
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const biome = path.join(root, 'node_modules', '.bin', 'biome');

/** Hand-written C++ files tracked by git (relative to the repository). */
export function cppFiles() {
  const r = spawnSync('git', ['ls-files', '*.cc', '*.h'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((f) => f && !f.includes('/generated/'));
}

/** Files clang-format would change: checks `text` as if it were at `file` when given, else the file. */
export function clangFormatDrift(files, text) {
  const drift = [];
  for (const f of files) {
    const args = ['--dry-run', '--Werror', `--assume-filename=${f}`];
    const r = spawnSync('clang-format', text === undefined ? [...args, f] : args, {
      cwd: root,
      encoding: 'utf8',
      input: text,
    });
    if (r.error) throw new Error(`clang-format is not installed (scripts/setup.sh installs it): ${r.error.message}`);
    if (r.status !== 0) drift.push(`${f}: not clang-formatted\n${r.stderr.split('\n').slice(0, 6).join('\n')}`);
  }
  return drift;
}

/** Biome's format and lint findings: for the whole tree, or for the files of another directory (the
 * repository's biome.json applies to them). */
export function biomeFindings(dir = root) {
  const args = [
    'check',
    '--error-on-warnings',
    '--max-diagnostics=50',
    `--config-path=${path.join(root, 'biome.json')}`,
    '.',
  ];
  const r = spawnSync(biome, args, { cwd: dir, encoding: 'utf8' });
  if (r.error) throw new Error(`biome is not installed (npm ci installs it): ${r.error.message}`);
  return r.status === 0 ? [] : [`${r.stdout}${r.stderr}`.trim()];
}

function main() {
  if (process.argv.includes('--fix')) {
    const files = cppFiles();
    const r = spawnSync('clang-format', ['-i', ...files], { cwd: root, stdio: 'inherit' });
    const b = spawnSync(biome, ['check', '--write', '.'], { cwd: root, stdio: 'inherit' });
    process.exit(r.status || b.status ? 1 : 0);
  }
  const problems = [...clangFormatDrift(cppFiles()), ...biomeFindings()];
  for (const p of problems) console.error(p);
  if (problems.length) {
    console.error('\nstyle check failed: run `npm run format` (lint findings need a hand fix)');
    process.exit(1);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
