// `nodevoy dev`: builds the package, starts real Envoy with it, and on every save rebuilds and swaps the
// filter in without restarting Envoy. The listener comes from a watched LDS file (.nodevoy/dev/lds.yaml):
// each build is written to a new bundle path and the listener is pushed again pointing at it, so Envoy
// makes a new filter config and drains the old one. Prints each request (status, method, path, time) from
// Envoy's access log and the filter's log lines; a build error is printed with its file:line and the last
// good filter keeps serving.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { buildFilters } from './build.mjs';
import { ACCESS_MARK, ldsBootstrap, ldsResponse, listener, parseAddress } from './envoy-config.mjs';
import { MODULE_DIR, packageRoot } from './module.mjs';
import { canConnect } from './net.mjs';

const LOG_FORMAT = '[%Y-%m-%d %T.%e][%l][%n] %v';

function findEnvoy(flag) {
  const bin = flag || process.env.ENVOY_BIN;
  if (bin) return bin;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, 'envoy');
    if (dir && fs.existsSync(p)) return p;
  }
  throw new Error('no Envoy found: put envoy on PATH, set ENVOY_BIN, or pass --envoy <path>');
}

function findModuleDir(flag) {
  // nodevoy build-module's output, then a build of this repository
  const candidates = [flag, process.env.NODEVOY_MODULE_DIR, MODULE_DIR, path.join(packageRoot, 'build')];
  for (const d of candidates) if (d && fs.existsSync(path.join(d, 'libnodevoy.so'))) return path.resolve(d);
  throw new Error(
    'libnodevoy.so not found: run nodevoy build-module, or pass --module-dir <dir> / set NODEVOY_MODULE_DIR (the lib/ folder of the release bundle)',
  );
}

function adminStats({ host, port }) {
  return new Promise((resolve) => {
    http
      .get({ host, port, path: '/stats?filter=listener_manager.lds' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => {
          const out = {};
          for (const m of body.matchAll(/^listener_manager\.lds\.(\w+): (\d+)$/gm)) out[m[1]] = Number(m[2]);
          resolve(out);
        });
      })
      .on('error', () => resolve({}));
  });
}

/** Prints Envoy's output readably: requests from the access log, the filter's and the module's log lines. */
function printer(print, verbose) {
  const onStdout = (line) => {
    const i = line.indexOf(ACCESS_MARK);
    if (i < 0) return;
    const [status, method, p, ms, details] = line
      .slice(i + ACCESS_MARK.length)
      .trim()
      .split(' ');
    const why = details && details !== 'via_upstream' ? `  (${details})` : '';
    print(`  ${status} ${method} ${p}  ${ms} ms${why}`);
  };
  let continuing = false; // the last line was printed: its continuation lines (a stack trace) are too
  const onStderr = (line) => {
    const m = /^\[[^\]]*\]\[(\w+)\]\[(\w+)\] (.*)$/.exec(line);
    if (!m) {
      if (continuing && line.trim()) print(`    ${line.trim()}`);
      return;
    }
    const [, level, logger, message] = m;
    continuing = true;
    if (logger === 'dynamic_modules' && !message.includes('ABI version')) print(`  [${level}] ${message}`);
    else if (verbose || level === 'error' || level === 'critical') print(`  [envoy ${level}] ${message}`);
    else continuing = false;
  };
  return { onStdout, onStderr };
}

function lines(stream, fn) {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (d) => {
    rest += d;
    const parts = rest.split('\n');
    rest = parts.pop();
    for (const l of parts) fn(l);
  });
}

/**
 * Runs until stop() (or SIGINT/SIGTERM when `signals`). Returns {stop, envoyPid, ready, reloads}.
 * options: project (loadProject), envoy, moduleDir, concurrency, print, verbose, signals.
 */
export async function startDev(project, options = {}) {
  const print = options.print ?? ((s) => console.log(s));
  const envoyBin = findEnvoy(options.envoy);
  const moduleDir = findModuleDir(options.moduleDir);
  const dir = path.join(project.dir, '.nodevoy', 'dev');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const ldsPath = path.join(dir, 'lds.yaml');
  let version = 0;
  let building = Promise.resolve();

  async function buildVersion() {
    const n = version + 1;
    const outPath = path.join(dir, `bundle-${n}.js`);
    const t0 = Date.now();
    const { bytes } = await buildFilters({ ...project, outPath }, { natives: n === 1, log: (m) => print(m) });
    print(
      `built ${path.relative(project.dir, project.entryPath)} in ${Date.now() - t0} ms (${(bytes / 1024).toFixed(1)} KB)`,
    );
    version = n;
    const filters = project.filters.map((f) => ({ ...f, module: outPath }));
    const tmp = path.join(dir, `.lds-${n}.tmp`);
    fs.writeFileSync(tmp, ldsResponse(n, listener({ listen: project.listen, filters, accessLog: true })));
    fs.renameSync(tmp, ldsPath); // the move Envoy's directory watch reports
    // Bundles two versions back are out of every config Envoy still holds.
    fs.rmSync(path.join(dir, `bundle-${n - 2}.js`), { force: true });
    fs.rmSync(path.join(dir, `bundle-${n - 2}.js.map`), { force: true });
  }

  await buildVersion();
  const bootstrapPath = path.join(dir, 'bootstrap.yaml');
  fs.writeFileSync(bootstrapPath, ldsBootstrap({ admin: project.admin, upstreams: project.upstreams, ldsPath, dir }));
  const envoy = spawn(
    envoyBin,
    [
      '-c',
      bootstrapPath,
      '--concurrency',
      String(options.concurrency ?? 1),
      '--disable-hot-restart',
      '--drain-time-s',
      '1',
      // the access log (each request's line) reaches the terminal within 100 ms, not Envoy's default 10 s
      '--file-flush-interval-msec',
      '100',
      '--log-format',
      LOG_FORMAT,
      '--log-level',
      options.verbose ? 'debug' : 'info',
    ],
    { env: { ...process.env, ENVOY_DYNAMIC_MODULES_SEARCH_PATH: moduleDir }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out = printer(print, options.verbose);
  lines(envoy.stdout, out.onStdout);
  let recentErrors = [];
  lines(envoy.stderr, (l) => {
    if (/\]\[(error|critical)\]|rejecting/.test(l)) recentErrors = [...recentErrors.slice(-4), l];
    out.onStderr(l);
  });
  const exited = new Promise((resolve) => envoy.once('exit', (code, signal) => resolve({ code, signal })));

  const listen = parseAddress(project.listen, 'listen');
  const admin = parseAddress(project.admin, 'admin');
  const deadline = Date.now() + 30000;
  let early;
  exited.then((e) => {
    early = e;
  });
  while (!(await canConnect(listen.port, listen.host))) {
    if (early) throw new Error(`Envoy exited while starting (code ${early.code}):\n${recentErrors.join('\n')}`);
    if (Date.now() > deadline) throw new Error('Envoy did not open its listener within 30 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  print(
    `nodevoy dev: Envoy ${envoy.pid} serving http://${listen.host}:${listen.port} (admin :${admin.port}); watching ${path.relative(project.dir, path.dirname(project.entryPath)) || '.'}`,
  );

  let reloads = 0;
  async function reload() {
    const before = await adminStats(admin);
    try {
      await buildVersion();
    } catch (e) {
      const errors = e.errors?.map((m) => `${m.location?.file}:${m.location?.line}:${m.location?.column}: ${m.text}`);
      print(`build failed; still serving the last good filter\n  ${errors?.join('\n  ') ?? e.message}`);
      return;
    }
    const until = Date.now() + 10000;
    for (;;) {
      const now = await adminStats(admin);
      if ((now.update_success ?? 0) > (before.update_success ?? 0)) {
        reloads++;
        print(`reloaded (version ${version}); Envoy ${envoy.pid} kept running`);
        return;
      }
      if ((now.update_rejected ?? 0) > (before.update_rejected ?? 0)) {
        print(`Envoy rejected version ${version}; still serving the last good filter\n  ${recentErrors.at(-1) ?? ''}`);
        return;
      }
      if (Date.now() > until) {
        print(`version ${version}: Envoy did not report the update within 10 s`);
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  let timer;
  const watcher = fs.watch(path.dirname(project.entryPath), { recursive: true }, () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      building = building.then(reload);
    }, 150);
  });

  let stopping;
  const stop = () => {
    stopping ??= (async () => {
      watcher.close();
      clearTimeout(timer);
      await building;
      envoy.kill('SIGTERM');
      const e = await exited;
      return e.code ?? 0;
    })();
    return stopping;
  };
  if (options.signals) {
    for (const s of ['SIGINT', 'SIGTERM']) process.once(s, () => stop().then((code) => process.exit(code)));
  }
  exited.then((e) => {
    if (!stopping) {
      print(`Envoy exited (code ${e.code}, signal ${e.signal})`);
      watcher.close();
    }
  });
  return { stop, envoyPid: envoy.pid, reloads: () => reloads, version: () => version };
}
