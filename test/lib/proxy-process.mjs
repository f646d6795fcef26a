// The proxy process under test (nodevoy-host or real Envoy): start, stop, expect a rejection, admin.
//
//   startHost(yaml, {concurrency = 2, env = {}, args = [], check = true, searchPath, logLevel,
//                    port, adminPort, startTimeoutMs = 30000}) ->
//       Promise<{port, adminPort, proc, stderr(), stop(), exited}>
//       Writes yaml to a temp file and spawns ${NODEVOY_BUILD || 'build'}/nodevoy-host (relative to
//       the repo root) with `-c file --concurrency N`, `--check-lifetimes` when check, `--log-level`
//       when logLevel, then args. ENVOY_DYNAMIC_MODULES_SEARCH_PATH defaults to the build dir
//       (searchPath overrides it). The listener (and admin) ports are read from the yaml. Resolves
//       once the listener and admin ports accept TCP; rejects with the stderr if the process exits
//       first. port/adminPort override what is read from the yaml. stop() sends SIGTERM and
//       resolves the exit code (after 20 s: a gdb thread dump into the stderr, then SIGKILL and
//       code null); calling it again returns the same promise. exitDescription() then says how it
//       ended (code, signal or hang); stopClean() stops and throws with that and the stderr unless
//       the exit code was 0. `exited` resolves {code, signal} when the process ends. With the env
//       var NODEVOY_HOST_STDERR=1 the host's stderr is also copied to the test's stderr.
//
//   runHostExpectFailure(yaml, opts) -> Promise<{code, signal, stderr}>
//       For configs the host must reject: same opts as startHost (plus timeoutMs = 20000); waits for
//       the exit, or SIGKILLs and rejects after timeoutMs.
//
//   adminGet(adminPort, path) -> Promise<string>   GET on the admin port; rejects unless 200.
//
// As a safety net every proxy still running when the test process exits is SIGKILLed.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildDir, proxy } from './target.mjs';
import { makeProxy, proxyArgs } from './proxy.mjs';
import { canConnect, sleep } from './util.mjs';
import { request } from './client.mjs';

const liveHosts = new Set();
process.on('exit', () => {
  for (const p of liveHosts) {
    try {
      p.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

let tmpRoot;
function tempFile(name, content) {
  tmpRoot ??= fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-host-test-'));
  const dir = fs.mkdtempSync(path.join(tmpRoot, 'h-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}
process.on('exit', () => {
  if (tmpRoot) fs.rmSync(tmpRoot, { recursive: true, force: true });
});

// Ports named in the yaml: the first port_value after `listeners:` and after `admin:`.
function portsOf(yaml) {
  const after = (marker) => {
    const i = yaml.search(marker);
    if (i < 0) return undefined;
    const m = /port_value:\s*"?(\d+)/.exec(yaml.slice(i));
    return m ? Number(m[1]) : undefined;
  };
  return { port: after(/^\s*listeners:/m), adminPort: after(/^admin:/m) };
}

/** A proxy other than the suite's own (NODEVOY_PROXY), e.g. for differential tests: 'host' or 'envoy@1.40'. */
export const proxyNamed = (spec) => makeProxy(buildDir, spec);

function spawnHost(
  yaml,
  { concurrency = 2, env = {}, args = [], check = true, searchPath, logLevel, proxy: which = proxy } = {},
) {
  const file = tempFile('envoy.yaml', yaml);
  const argv = ['-c', file, ...proxyArgs(which, { concurrency, logLevel, check }), ...args];
  // A proxy may name a wrapper to run it under (benchmarks/run.mjs: valgrind's callgrind).
  const [cmd, ...cmdArgs] = [...(which.wrapper ?? []), which.bin, ...argv];
  const proc = spawn(cmd, cmdArgs, {
    env: {
      ...process.env,
      ENVOY_DYNAMIC_MODULES_SEARCH_PATH: searchPath ?? buildDir,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveHosts.add(proc);
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    stderr += d;
    if (process.env.NODEVOY_HOST_STDERR) process.stderr.write(d);
  });
  proc.stdout.resume();
  const exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      liveHosts.delete(proc);
      // let the last stderr bytes arrive
      if (proc.stderr.readableEnded) resolve({ code, signal });
      else proc.stderr.once('end', () => resolve({ code, signal }));
    });
    proc.once('error', (err) => {
      liveHosts.delete(proc);
      stderr += `spawn error: ${err.message}\n`;
      resolve({ code: null, signal: null, error: err });
    });
  });
  // note(): text the harness adds to the record (a thread dump).
  return { proc, exited, stderr: () => stderr, note: (text) => (stderr += text) };
}

// The threads of a process that will not exit, for the failure message: gdb's backtraces, when gdb is
// installed (scripts/setup.sh installs it) and may attach.
function threadDump(pid) {
  try {
    const out = execFileSync('gdb', ['-p', String(pid), '-batch', '-nx', '-ex', 'thread apply all bt 30'], {
      encoding: 'utf8',
      timeout: 60000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = out.split('\n').filter((l) => !/^\[(New LWP|Thread debugging)|^Using host libthread_db/.test(l));
    return `\n--- the threads of pid ${pid}, before SIGKILL (gdb) ---\n${lines.join('\n')}\n`;
  } catch (e) {
    return `\n--- no thread dump of pid ${pid}: ${String(e.message).split('\n')[0]} ---\n`;
  }
}

// SIGKILL for a process that did not exit in time, after recording where its threads were.
function killHung(proc, note) {
  note(threadDump(proc.pid));
  proc.kill('SIGKILL');
}

export async function startHost(yaml, opts = {}) {
  const { proc, exited, stderr, note } = spawnHost(yaml, opts);
  const ports = portsOf(yaml);
  const port = opts.port ?? ports.port;
  const adminPort = opts.adminPort ?? ports.adminPort;
  let exitInfo = null;
  exited.then((info) => {
    exitInfo = info;
  });

  const deadline = Date.now() + (opts.startTimeoutMs ?? 30000);
  for (;;) {
    if (exitInfo) {
      throw new Error(
        `${(opts.proxy ?? proxy).label} exited during startup (code ${exitInfo.code}, signal ${exitInfo.signal}):\n${stderr()}`,
      );
    }
    const ok = (await canConnect(port)) && (adminPort === undefined || (await canConnect(adminPort)));
    if (ok && !exitInfo) break;
    if (Date.now() > deadline) {
      killHung(proc, note);
      throw new Error(`${(opts.proxy ?? proxy).label} did not open port ${port} in time:\n${stderr()}`);
    }
    await sleep(25);
  }

  let stopping;
  let hung = false; // still running 20 s after SIGTERM
  const label = (opts.proxy ?? proxy).label;
  return {
    port,
    adminPort,
    proc,
    exited,
    stderr,
    /** How the process ended, for messages: "code 1", "signal SIGSEGV", "no exit within 20 s of SIGTERM". */
    exitDescription() {
      if (hung) return 'no exit within 20 s of SIGTERM (SIGKILLed)';
      return exitInfo?.signal ? `signal ${exitInfo.signal}` : `code ${exitInfo?.code}`;
    },
    /** stop(), then throws unless the exit was clean (a crash, an ASan report at exit, a hang). */
    async stopClean() {
      if ((await this.stop()) !== 0)
        throw new Error(`${label} ended with ${this.exitDescription()} at teardown:\n${stderr().slice(-8000)}`);
    },
    stop() {
      stopping ??= (async () => {
        if (!exitInfo) {
          proc.kill('SIGTERM');
          const killer = setTimeout(() => {
            hung = true;
            killHung(proc, note);
          }, 20000);
          await exited;
          clearTimeout(killer);
        }
        const info = await exited;
        return info.code;
      })();
      return stopping;
    },
  };
}

export async function runHostExpectFailure(yaml, opts = {}) {
  const { proc, exited, stderr, note } = spawnHost(yaml, opts);
  const timeoutMs = opts.timeoutMs ?? 20000;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      killHung(proc, note);
      reject(new Error(`${(opts.proxy ?? proxy).label} did not exit within ${timeoutMs} ms:\n${stderr()}`));
    }, timeoutMs);
  });
  try {
    const { code, signal } = await Promise.race([exited, timeout]);
    return { code, signal, stderr: stderr() };
  } finally {
    clearTimeout(timer);
  }
}

export async function adminGet(adminPort, p) {
  const r = await request(adminPort, { path: p, agent: false });
  if (r.status !== 200) throw new Error(`admin ${p}: status ${r.status}`);
  return r.body;
}
