// A filter package as a user makes one: `nodevoy init` in a directory outside the repository, with nodevoy
// installed from this repository's `npm pack` (the files a registry would serve).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './target.mjs';

/** The CLI, run from this repository. */
export const CLI = path.join(repoRoot, 'bin', 'nodevoy.mjs');

/** Runs a command to completion and returns its stdout; throws (with its stderr) when it fails. */
export function sh(cmd, args, cwd, { env = {}, timeout = 240000 } = {}) {
  return execFileSync(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout,
  });
}

/** `nodevoy init <work>/<name>` against a packed nodevoy, then `npm install`. Returns {app, tarball, initOutput}. */
export function packedProject(work, name, { timeout } = {}) {
  const tarball = path.join(
    work,
    sh('npm', ['pack', '--silent', '--pack-destination', work], repoRoot, { timeout }).trim(),
  );
  const app = path.join(work, name);
  const initOutput = sh(process.execPath, [CLI, 'init', app, '--nodevoy', `file:${tarball}`]);
  sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], app, { timeout });
  return { app, tarball, initOutput };
}
