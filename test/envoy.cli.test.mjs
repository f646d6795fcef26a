// The nodevoy CLI as a new user meets it, on real Envoy (NODEVOY_PROXY=envoy@<version>): from an empty
// directory outside the repository, `nodevoy init`, `npm install` (nodevoy from this repository's `npm
// pack`), `npm test` (the generated unit test), then `nodevoy dev` serves requests through real Envoy.
// Editing the filter changes the next responses with the same Envoy process and no failed request; a
// syntax error keeps the last good filter serving; a handler that throws is reported at its TypeScript
// file:line. Also: `nodevoy envoy-config`'s output passes `envoy --mode validate`, and every command has --help.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { buildDir, freePort, onEnvoy, proxy, sleep, startUpstream, waitFor } from './lib/harness.mjs';
import { CLI, packedProject, sh } from './lib/project.mjs';

t.test('every command has --help', async (t) => {
  for (const cmd of ['init', 'build', 'envoy-config', 'dev', 'build-module']) {
    const out = sh(process.execPath, [CLI, cmd, '--help']);
    t.match(out, new RegExp(`Usage: nodevoy ${cmd}`), `nodevoy ${cmd} --help`);
  }
  t.match(sh(process.execPath, [CLI, '--help']), /Commands:[\s\S]*init[\s\S]*build[\s\S]*envoy-config[\s\S]*dev/);
});

t.test('build outside a filter package says what is missing', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-cli-empty-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const build = () => spawnSync(process.execPath, [CLI, 'build'], { cwd: dir, encoding: 'utf8' });
  let r = build();
  t.equal(r.status, 1);
  t.match(r.stderr, /no package\.json in \S+: run nodevoy build in a filter package \(nodevoy init makes one\)/);
  fs.writeFileSync(path.join(dir, 'package.json'), '{}');
  r = build();
  t.equal(r.status, 1);
  t.match(r.stderr, /the filters source \S+src\/filter\.ts does not exist/);
});

t.test('init, npm install, npm test, then nodevoy dev reloads edits in the same Envoy', async (t) => {
  if (!onEnvoy) {
    t.pass('runs on the real-Envoy passes (nodevoy dev runs Envoy)');
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-cli-'));
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
  const { app, initOutput } = packedProject(work, 'my-filters');
  t.match(initOutput, /created my-filters/);
  t.throws(() => sh(process.execPath, [CLI, 'init', app]), 'init refuses a directory that is not empty');
  const tested = sh('npm', ['test'], app);
  t.match(tested, /# pass 1/, 'the generated unit test passes');
  t.match(tested, /# fail 0/);

  // envoy-config: what it writes is a config Envoy accepts (validate mode loads the module and the bundle).
  t.match(
    sh(process.execPath, [path.join(app, 'node_modules', '.bin', 'nodevoy'), 'envoy-config'], app),
    /wrote envoy\.yaml/,
  );
  sh(proxy.bin, ['--mode', 'validate', '-c', path.join(app, 'envoy.yaml')], app, {
    env: { ENVOY_DYNAMIC_MODULES_SEARCH_PATH: buildDir },
  });
  t.pass('envoy --mode validate accepts the generated envoy.yaml');

  const up = await startUpstream();
  t.teardown(() => up.close());
  const listen = await freePort();
  const admin = await freePort();
  const dev = spawn(
    path.join(app, 'node_modules', '.bin', 'nodevoy'),
    [
      'dev',
      '--envoy',
      proxy.bin,
      '--module-dir',
      buildDir,
      '--upstream',
      `127.0.0.1:${up.port}`,
      '--listen',
      `127.0.0.1:${listen}`,
      '--admin',
      `127.0.0.1:${admin}`,
    ],
    { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  dev.stdout.on('data', (d) => {
    output += d;
  });
  dev.stderr.on('data', (d) => {
    output += d;
  });
  const devExit = new Promise((resolve) => dev.once('exit', (code, signal) => resolve({ code, signal })));
  t.teardown(() => dev.kill('SIGKILL'));
  const started = await waitFor(() => /nodevoy dev: Envoy (\d+) serving/.exec(output), { timeoutMs: 60000 });
  const pid = Number(started[1]);
  const startTime = () => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
  const born = startTime();

  // Steady traffic for the whole edit: one request every 10 ms, keep-alive and fresh connections alternating.
  const agent = new http.Agent({ keepAlive: true });
  const seen = [];
  const failures = [];
  let going = true;
  const traffic = (async () => {
    for (let i = 0; going; i++) {
      await new Promise((resolve) => {
        const req = http.get({ port: listen, path: `/r${i}`, agent: i % 2 ? agent : false }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) failures.push(`${i}: ${res.statusCode}`);
            seen.push(res.headers['x-served-by']);
            resolve();
          });
        });
        req.on('error', (e) => {
          failures.push(`${i}: ${e.message}`);
          resolve();
        });
      });
      await sleep(10);
    }
  })();
  await waitFor(() => seen.includes('hello'), { timeoutMs: 10000 });
  t.equal(
    up.requests.at(-1)?.headers['x-greeting'],
    'hello from nodevoy',
    'the config from nodevoy.json reached the filter',
  );

  const src = path.join(app, 'src', 'filter.ts');
  const original = fs.readFileSync(src, 'utf8');
  fs.writeFileSync(src, original.replace("'x-served-by', 'hello'", "'x-served-by', 'hello, edited'"));
  // New connections get the edited filter at once; keep-alive ones once Envoy drained the old chain (1 s).
  await waitFor(() => seen.length > 10 && seen.slice(-10).every((v) => v === 'hello, edited'), { timeoutMs: 20000 });
  t.pass('the next responses come from the edited filter, on new and on keep-alive connections');
  t.match(output, new RegExp(`reloaded \\(version 2\\); Envoy ${pid} kept running`));

  // A syntax error: reported with its position, and the last good filter keeps serving.
  fs.writeFileSync(src, original.replace("'x-served-by', 'hello'", "'x-served-by', 'hello, edited' +"));
  await waitFor(() => /build failed; still serving the last good filter\s+\S*filter\.ts:\d+:\d+/.test(output), {
    timeoutMs: 20000,
  });
  const afterError = seen.length;
  await waitFor(() => seen.length > afterError + 5, { timeoutMs: 10000 });
  t.same([...new Set(seen.slice(afterError))], ['hello, edited'], 'still served by the last good filter');
  going = false;
  await traffic;
  agent.destroy();
  t.same(failures, [], `no request failed (${seen.length} sent across the reload)`);
  t.equal(startTime(), born, `the same Envoy process (pid ${pid}) served before and after`);

  // A handler that throws: the log names the TypeScript file and line.
  fs.writeFileSync(
    src,
    original.replace("res.headers.set('x-served-by', 'hello');", "throw new Error('edited to fail');"),
  );
  await waitFor(() => /reloaded \(version 3\)/.test(output), { timeoutMs: 20000 });
  await new Promise((resolve) =>
    http.get({ port: listen, path: '/fails', agent: false }, (res) => res.resume().on('end', resolve)),
  );
  await waitFor(() => /edited to fail\n\s+at \S*onResponseHeaders \(\S*src\/filter\.ts:\d+:\d+\)/.test(output), {
    timeoutMs: 10000,
  });
  t.pass('the thrown error is reported at src/filter.ts:line:column');
  await waitFor(() => /500 GET \/fails/.test(output), { timeoutMs: 15000 });
  t.pass('each request is printed with its status (500 GET /fails)');

  dev.kill('SIGINT');
  const exit = await devExit;
  t.equal(exit.code, 0, 'nodevoy dev exits cleanly on SIGINT');
  t.throws(() => process.kill(pid, 0), 'and Envoy is gone');
});
