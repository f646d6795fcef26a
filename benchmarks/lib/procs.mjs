// Process helpers for benchmarks/run.mjs: /proc readings, wrk, nginx in the foreground, the upstream,
// and the machine/version facts written into every report.
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { canConnect, freePort, sleep, buildDir } from '../../test/lib/harness.mjs';

const execFileP = promisify(execFile);
export const here = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
export const NGINX = '/usr/sbin/nginx';
export const NJS_MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';

// ------------------------------------------------------------------------------------------------
// /proc
// ------------------------------------------------------------------------------------------------

const hz = Number(execFileSync('getconf', ['CLK_TCK']).toString());

/** utime + stime of the whole process (all threads, exited ones included), in seconds. */
export function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / hz;
}
export function rssKb(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}
export const clockTicksPerSecond = hz;

// ------------------------------------------------------------------------------------------------
// temp dirs and child processes, all cleaned up at exit
// ------------------------------------------------------------------------------------------------

const children = new Set();
let tmpRoot;
export function tempDir(prefix) {
  tmpRoot ??= fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-bench-'));
  return fs.mkdtempSync(path.join(tmpRoot, `${prefix}-`));
}
process.on('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  if (tmpRoot) fs.rmSync(tmpRoot, { recursive: true, force: true });
});

/** Spawns argv, waits until `port` accepts TCP; rejects with the output if the process exits first. */
async function spawnListening(cmd, args, port, what, { timeoutMs = 15000 } = {}) {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let output = '';
  proc.stdout.on('data', (d) => (output += d));
  proc.stderr.on('data', (d) => (output += d));
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      children.delete(proc);
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    proc.once('error', (err) => {
      children.delete(proc);
      exitInfo = { error: err.message };
      resolve(exitInfo);
    });
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitInfo)
      throw new Error(`${what} exited during startup (${JSON.stringify(exitInfo)}): ${output.trim().slice(-600)}`);
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${what} did not open port ${port}: ${output.trim().slice(-600)}`);
    }
    await sleep(20);
  }
  let stopping;
  return {
    proc,
    port,
    output: () => output,
    stop() {
      stopping ??= (async () => {
        if (!exitInfo) {
          proc.kill('SIGTERM');
          const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(t);
        }
      })();
      return stopping;
    },
  };
}

// ------------------------------------------------------------------------------------------------
// nginx in the foreground: one process (master_process off), everything under a temp prefix
// ------------------------------------------------------------------------------------------------

export function nginxAvailable() {
  return fs.existsSync(NGINX);
}
export function njsAvailable() {
  return fs.existsSync(NJS_MODULE);
}

/**
 * Starts nginx with `http` as the body of its http{} block (the caller's servers/upstreams) and the
 * njs module loaded when `njs` is set. Returns {proc, port, stop(), output()}.
 */
export async function startNginx({ port, http, njs = false, files = {} }) {
  const dir = tempDir('nginx');
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const conf = `
${njs ? `load_module ${NJS_MODULE};` : ''}
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  default_type text/plain;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  client_body_buffer_size 128k;
  client_max_body_size 4m;
${http}
}
`;
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, conf);
  return spawnListening(NGINX, ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', file], port, 'nginx');
}

/** The fast upstream: nginx returning a static body, or (without nginx) a node:http child process. */
export async function startFastUpstream(kind = process.env.NODEVOY_BENCH_UPSTREAM || 'nginx') {
  const port = await freePort();
  if (kind === 'nginx' && nginxAvailable()) {
    const http = `
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location = /check { return 200 "allowed"; }
    location / { return 200 "ok\\n"; }
  }`;
    return { kind: 'nginx (static return, 1 process)', ...(await startNginx({ port, http })) };
  }
  const s = await spawnListening(
    process.execPath,
    [path.join(here, 'upstream-node.mjs'), String(port)],
    port,
    'node upstream',
  );
  return { kind: 'node:http child process', ...s };
}

// ------------------------------------------------------------------------------------------------
// wrk
// ------------------------------------------------------------------------------------------------

const luaString = (s) => `"${String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

/**
 * A wrk Lua script for a request shape {method, headers, bodyRepeat: [piece, times]} whose done()
 * prints one line "WRKJSON {...}" with counts and latency percentiles in µs (p99.9 included).
 */
export function wrkScript(shape) {
  const dir = tempDir('wrk');
  const lines = [`wrk.method = ${luaString(shape.method || 'GET')}`];
  for (const [k, v] of Object.entries(shape.headers || {}))
    lines.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`);
  if (shape.bodyRepeat) lines.push(`wrk.body = string.rep(${luaString(shape.bodyRepeat[0])}, ${shape.bodyRepeat[1]})`);
  lines.push(`
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"mean":%.2f,"max":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.mean, latency.max))
end
`);
  const file = path.join(dir, 'script.lua');
  fs.writeFileSync(file, lines.join('\n'));
  return file;
}

/** Runs wrk; resolves the parsed WRKJSON line (+ raw stdout). */
export async function runWrk({ port, path: p = '/', seconds, connections, script }) {
  const args = [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '--latency',
    '--timeout',
    '5s',
    '-s',
    script,
    `http://127.0.0.1:${port}${p}`,
  ];
  const { stdout } = await execFileP('wrk', args, { maxBuffer: 1 << 20 });
  const m = /WRKJSON (\{.*\})/.exec(stdout);
  if (!m) throw new Error(`wrk printed no summary:\n${stdout}`);
  return { ...JSON.parse(m[1]), stdout, args };
}

// ------------------------------------------------------------------------------------------------
// machine and versions
// ------------------------------------------------------------------------------------------------

/** stdout + stderr of a command, whatever its exit code (nginx -v and wrk -v print to stderr / exit 1). */
function tryRun(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return null;
  return `${r.stdout || ''}${r.stderr || ''}`.trim() || null;
}

export function machineInfo() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  let distro = null;
  try {
    distro = /PRETTY_NAME="([^"]*)"/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? null;
  } catch {
    // none
  }
  return {
    cpuModel: model,
    cores: os.cpus().length,
    kernel: `${os.type()} ${os.release()}`,
    memoryMb: Math.round(os.totalmem() / 1048576),
    distro,
  };
}

export function versions() {
  const ldd = tryRun('ldd', [path.join(buildDir, 'libnodevoy.so')]) || '';
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  const dpkg = (p) => tryRun('dpkg-query', ['-W', '-f=${Version}', p]);
  return {
    driverNode: process.version,
    libnodeSo: /(\S*libnode\.so\S*)\s*=>\s*(\S+)/.exec(ldd)?.slice(1).join(' => ') ?? null,
    wrk: (tryRun('wrk', ['-v']) || '').split('\n')[0].replace(/\s*\[.*$/, '') || null,
    nginx: nginxAvailable() ? (tryRun(NGINX, ['-v']) || '').replace(/^nginx version:\s*/, '') : null,
    njsPackage: dpkg('libnginx-mod-http-js'),
  };
}
