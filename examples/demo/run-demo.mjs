#!/usr/bin/env node
// npm run demo: compiles the demo filter, starts the app and auth services and nodevoy-host (a test
// host for Envoy dynamic modules, not Envoy; set ENVOY_BIN to use a real Envoy instead), sends a few
// requests through the TypeScript filter and prints what came back. `--serve` keeps everything running.
import { spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const serve = process.argv.includes('--serve');
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'examples/demo/tsconfig.json'], { cwd: root, stdio: 'inherit' });

const users = { alice: 'admin', bob: 'reader' };
const auth = http.createServer((req, res) => {
  const user = new URL(req.url, 'http://x').searchParams.get('user');
  if (!users[user]) { res.statusCode = 403; return res.end('{}'); }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ role: users[user] }));
}).listen(10002, '127.0.0.1');
const app = http.createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(`app saw ${req.method} ${req.url} user=${req.headers['x-user']} role=${req.headers['x-user-role']} x-nodevoy="${req.headers['x-nodevoy']}"\n`);
}).listen(10001, '127.0.0.1');

const bin = process.env.ENVOY_BIN || path.join(root, 'build', 'nodevoy-host');
const proxy = spawn(bin, ['-c', 'examples/demo/envoy.yaml', '--concurrency', '2'], {
  cwd: root,
  env: { ...process.env, ENVOY_DYNAMIC_MODULES_SEARCH_PATH: path.join(root, 'build') },
  stdio: ['ignore', 'inherit', 'inherit'],
});
let exited = false;
proxy.on('exit', (code) => { exited = true; if (!stopping) { console.error(`proxy exited early (${code})`); process.exit(1); } });
let stopping = false;

function get(p, headers = {}) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: 10000, path: p, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    }).on('error', reject);
  });
}

async function ready() {
  for (let i = 0; i < 100; i++) {
    try { return await get('/health', { 'x-user': 'alice' }); } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  throw new Error('the proxy did not start listening on 10000');
}

await ready();
console.log(`\nnodevoy demo: ${path.basename(bin)} on :10000 -> TypeScript filter "demo" -> app on :10001\n`);
for (const [p, h] of [['/hello', { 'x-user': 'alice' }], ['/docs', { 'x-user': 'bob' }], ['/admin', { 'x-user': 'mallory' }], ['/anon', {}]]) {
  const r = await get(p, h);
  console.log(`curl -H 'x-user: ${h['x-user'] ?? ''}' localhost:10000${p}\n  -> ${r.status} x-served-by=${r.headers['x-served-by'] ?? '-'}  ${r.body.trim()}`);
}
if (serve) {
  console.log('\nserving; try: curl -i -H "x-user: alice" localhost:10000/  (Ctrl-C to stop)');
  await new Promise((r) => process.on('SIGINT', r));
}
stopping = true;
proxy.kill('SIGTERM');
await new Promise((r) => (exited ? r() : proxy.on('exit', r)));
auth.close();
app.close();
