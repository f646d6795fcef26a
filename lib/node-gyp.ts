// One way to run node-gyp, for `nodevoy build` (addons for Envoy's Node 18), the test kit's build on
// first use and scripts/build-kit.mjs (the kit for the tooling Node).
import { execFileSync } from 'node:child_process';

/**
 * Runs node-gyp with `args` in `dir`, quietly; throws an Error whose message is the end of node-gyp's
 * output when it fails. npm's settings for the machine's Node (npm_config_nodedir, _target...) are
 * dropped from the environment, since they would win over the flags in `args`; `env` adds variables
 * (CXXFLAGS...).
 */
export function nodeGyp(dir: string, args: string[], env: Record<string, string> = {}): void {
  const gyp = require.resolve('node-gyp/bin/node-gyp.js');
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  try {
    execFileSync(process.execPath, [gyp, ...args, '--directory', dir], {
      env: { ...clean, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
  } catch (e) {
    const { stdout, stderr, message } = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`node-gyp ${args[0]} failed in ${dir}:\n${`${stdout ?? ''}${stderr ?? message}`.slice(-4000)}`);
  }
}
