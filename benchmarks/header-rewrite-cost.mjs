#!/usr/bin/env node
// Superseded by benchmarks/run.mjs (`npm run bench`); kept so `npm run bench:cost` still works.
// Runs the header-rewrite subset of the full benchmark: no filter, native/JS passthrough, native/JS
// header rewrite, and nginx (plain, directives, njs) for comparison. Extra arguments are passed on
// (e.g. --quick, --rounds 3, --seconds 5).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const only = '^(no filter|native passthrough|JS passthrough|native header rewrite|JS header rewrite|nginx.*)$';
const r = spawnSync(
  process.execPath,
  [path.join(here, 'run.mjs'), '--only', only, '--no-memory', '--no-micro', '--no-save', ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
