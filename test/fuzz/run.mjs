#!/usr/bin/env node
// nodevoy fuzzing: replays the corpus, then fuzzes both targets side by side for N minutes, saves
// new interesting inputs to the corpus and prints a summary. See test/fuzz/README.md.
//
//   npm run fuzz -- [--minutes N (10)] [--target headers|config|both] [--seed S] [--replay-only]
//                   [--inflight K (6)] [--config-jobs J (2)] [--no-save] [--live] [--corpus DIR]
//
// --corpus DIR replays (and grows) DIR/headers and DIR/config instead of test/fuzz/corpus; e.g.
// `node test/fuzz/run.mjs --replay-only --live --corpus test/fuzz/repro` replays the known failures.
//
// By default it runs against a private copy of build/, dist/ and test/js/ (so a rebuild by someone
// else mid-run cannot change what is being fuzzed); --live uses the working tree's build directly.
// Exit code: 0 when no case failed, 1 otherwise. Failing inputs go to $NODEVOY_FUZZ_FINDINGS
// (default: <tmpdir>/nodevoy-fuzz-findings), each with its failures and the raw response.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { prng, genProgram, mutateProgram } from './gen.mjs';
import { startHeaderTarget, check as checkHeaders } from './headers.mjs';
import { genConfigCase, mutateConfigCase, makePredictor, runConfigCase, checkConfig } from './config.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
export let corpusDir = path.join(here, 'corpus');
const findingsDir = process.env.NODEVOY_FUZZ_FINDINGS || path.join(os.tmpdir(), 'nodevoy-fuzz-findings');
const MAX_CORPUS_FILE = 64 * 1024;
const MAX_HEADER_INPUT = 4 * 1024; // bigger programs still run; the corpus keeps small ones
const MAX_CONFIG_CORPUS = 150;

// ------------------------------------------------------------------------------------------------
// a private copy of the build (the working tree is rebuilt by others while a long run goes on)
// ------------------------------------------------------------------------------------------------

export function snapshotBuild() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-fuzz-'));
  const src = path.resolve(repoRoot, process.env.NODEVOY_BUILD || 'build');
  fs.mkdirSync(path.join(root, 'build'));
  for (const f of ['nodevoy-host', 'libnodevoy.so']) fs.copyFileSync(path.join(src, f), path.join(root, 'build', f));
  fs.chmodSync(path.join(root, 'build', 'nodevoy-host'), 0o755);
  fs.cpSync(path.join(repoRoot, 'dist'), path.join(root, 'dist'), { recursive: true });
  fs.copyFileSync(path.join(repoRoot, 'package.json'), path.join(root, 'package.json')); // require('nodevoy') resolves to the copy
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(root, 'node_modules'));
  fs.cpSync(path.join(repoRoot, 'test', 'js'), path.join(root, 'test', 'js'), { recursive: true });
  process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
  return { root, buildDir: path.join(root, 'build'), jsDir: path.join(root, 'test', 'js') };
}

// Corpus files name the bundle with placeholders, so they replay from any checkout or snapshot.
const FF_TOKEN = '@FAULT_FILTERS@';
const JS_TOKEN = '@JS_DIR@';
function toPortable(obj, paths) {
  return JSON.parse(JSON.stringify(obj).split(paths.faultFilters).join(FF_TOKEN).split(paths.jsDir).join(JS_TOKEN));
}
function fromPortable(obj, paths) {
  return JSON.parse(JSON.stringify(obj).split(FF_TOKEN).join(paths.faultFilters).split(JS_TOKEN).join(paths.jsDir));
}

function loadCorpus(target) {
  const dir = path.join(corpusDir, target);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: path.join(dir, f), input: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) }));
}

function saveInput(dir, input, extra = {}) {
  const text = JSON.stringify({ ...extra, input });
  const name = `${crypto.createHash('sha1').update(JSON.stringify(input)).digest('hex').slice(0, 12)}.json`;
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) fs.writeFileSync(file, `${text}\n`);
  return file;
}

// ------------------------------------------------------------------------------------------------
// the two targets, as loops
// ------------------------------------------------------------------------------------------------

async function headerLoop({ harness, paths, r, deadline, inflight, replayOnly, save, stats, log }) {
  const target = await startHeaderTarget({ harness, faultFilters: paths.faultFilters });
  const features = new Set();
  const corpus = loadCorpus('headers').map((e) => e.input.input ?? e.input);
  const pool = [...corpus];
  const failures = [];
  let restarting = null;
  const noteFailure = async (prog, msgs, kind, response) => {
    stats.failed++;
    const sig = msgs[0]
      .replace(/"[^"]*"/g, '"…"')
      .replace(/\d+/g, 'N')
      .slice(0, 120);
    if (!failures.some((f) => f.sig === sig)) {
      failures.push({ sig, msgs, prog });
      saveInput(findingsDir, prog, {
        target: 'headers',
        kind,
        failures: msgs.slice(0, 10),
        response: response?.toString('base64').slice(0, 100000),
      });
      log(`[headers] FAIL (${kind}): ${msgs.slice(0, 3).join(' | ').slice(0, 600)}`);
    }
  };

  const runOne = async (prog) => {
    if (restarting) await restarting;
    const before = process.env.FUZZ_DEBUG ? JSON.stringify(prog) : null;
    const res = await target.run(prog);
    if (before !== null && before !== JSON.stringify(prog))
      log(`[debug] program changed while in flight:\n${before.slice(0, 500)}\n${JSON.stringify(prog).slice(0, 500)}`);
    stats.cases++;
    if (!target.alive()) {
      const info = target.exitInfo();
      stats.crashes++;
      await noteFailure(
        prog,
        [`host exited (code ${info.code}, signal ${info.signal}) with this case in flight`, info.stderr.slice(-2000)],
        'crash',
      );
      restarting ??= target.restart().finally(() => {
        restarting = null;
      });
      await restarting;
      return;
    }
    const c = checkHeaders(prog, res, target.decode);
    if (process.env.FUZZ_DEBUG && c.failures.length) {
      // the checker is a pure function of (program, response): a different verdict on a copy is a fuzzer bug
      const again = checkHeaders(JSON.parse(JSON.stringify(prog)), { ...res }, target.decode);
      log(`[debug] re-check of a failing case on a JSON copy: ${again.failures.length} failure(s)`);
    }
    stats.kinds[c.kind] = (stats.kinds[c.kind] || 0) + 1;
    if (c.kind === 'hung') stats.hangs++;
    const problems = target.stderrProblems();
    if (problems.length) c.failures.push(...problems.map((l) => `host stderr: ${l}`));
    if (c.kind === 'hung') c.failures.push(`host log tail: ${target.host.stderr().split('\n').slice(-15).join(' / ')}`);
    if (c.failures.length && /\b504\b|hung/.test(c.failures[0])) {
      // a time-budget 504: say whether the module's watchdog logged stopping JS around then
      const lines = target.budgetLines();
      c.failures.push(`budget log lines so far (${lines.length}): ${lines.slice(-3).join(' / ')}`);
      stats.budget504++;
    }
    if (c.failures.length) await noteFailure(prog, c.failures, c.kind, res.bytes);
    const fresh = [];
    for (const f of c.features)
      if (!features.has(f)) {
        features.add(f);
        fresh.push(f);
      }
    if (fresh.length && !replaying && !c.failures.length) {
      // failing inputs go to the findings, never the corpus
      pool.push(prog);
      const size = Buffer.byteLength(JSON.stringify(prog));
      if (save && size <= MAX_HEADER_INPUT) {
        saveInput(path.join(corpusDir, 'headers'), prog, { features: fresh });
        stats.saved++;
      }
    }
  };

  // replay first (features seen there are not "new")
  let replaying = true;
  const queue = [...corpus];
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (queue.length) await runOne(queue.shift());
    }),
  );
  stats.replayed = corpus.length;
  replaying = false;
  if (!replayOnly) {
    await Promise.all(
      Array.from({ length: inflight }, async () => {
        while (Date.now() < deadline) {
          const prog =
            pool.length && r.chance(0.6)
              ? mutateProgram(r, r.pick(pool), r.chance(0.2) ? r.pick(pool) : null)
              : genProgram(r);
          await runOne(prog);
        }
      }),
    );
  }
  stats.features = features.size;
  const end = await target.stop();
  if (end.code !== 0) {
    stats.failed++;
    failures.push({
      sig: 'unclean exit',
      msgs: [`host exited ${end.code} (signal ${end.signal}) at the end of the run`, end.stderr.slice(-2000)],
    });
    log(`[headers] FAIL: host exited ${end.code} (signal ${end.signal}) at the end: ${end.stderr.slice(-600)}`);
  }
  return failures;
}

async function configLoop({ harness, paths, r, deadline, jobs, replayOnly, save, stats, log }) {
  const predict = makePredictor({ faultFilters: paths.faultFilters, hostCwd: process.cwd() });
  const up = await harness.startUpstream();
  const seen = new Set();
  const corpusEntries = loadCorpus('config');
  const corpus = corpusEntries.map((e) => fromPortable(e.input.input ?? e.input, paths));
  const pool = [...corpus];
  const failures = [];
  let saved = corpusEntries.length;
  let replaying = true;
  const runOne = async (c) => {
    const pred = predict(c);
    const run = await runConfigCase(c, { harness, upstreamPort: up.port });
    stats.cases++;
    const chk = checkConfig(c, run, pred);
    stats.categories[chk.category] = (stats.categories[chk.category] || 0) + 1;
    stats.verdicts[pred.verdict] = (stats.verdicts[pred.verdict] || 0) + 1;
    if (run.outcome === 'crash') stats.crashes++;
    if (run.outcome === 'hang') stats.hangs++;
    if (chk.failures.length) {
      stats.failed++;
      // (a crash on a deeply nested document and a crash on another document are different findings)
      const sig = `${c.deep ? 'deep ' : ''}${chk.failures[0]
        .replace(/"[^"]*"/g, '"…"')
        .replace(/\d+/g, 'N')
        .slice(0, 120)}`;
      if (run.outcome === 'crash')
        stats.crashCases.push({ deep: c.deep ?? 0, stderrTail: (run.stderr || '').slice(-600) });
      if (!failures.some((f) => f.sig === sig)) {
        failures.push({ sig, msgs: chk.failures, input: c });
        saveInput(findingsDir, toPortable(c, paths), {
          target: 'config',
          failures: chk.failures.slice(0, 5),
          prediction: pred,
        });
        log(
          `[config] FAIL: ${chk.failures.join(' | ').slice(0, 600)}\n  case: ${JSON.stringify({ ...c, text: c.text?.slice(0, 300) }).slice(0, 600)}`,
        );
      }
    }
    let fresh = false;
    for (const f of chk.features)
      if (!seen.has(f)) {
        seen.add(f);
        fresh = true;
      }
    if (fresh && !replaying && !chk.failures.length) {
      pool.push(c);
      const portable = toPortable(c, paths);
      if (save && saved < MAX_CONFIG_CORPUS && Buffer.byteLength(JSON.stringify(portable)) <= MAX_CORPUS_FILE) {
        saveInput(path.join(corpusDir, 'config'), portable, { category: chk.category });
        saved++;
        stats.saved++;
      }
    }
  };
  const queue = [...corpus];
  await Promise.all(
    Array.from({ length: jobs }, async () => {
      while (queue.length) await runOne(queue.shift());
    }),
  );
  stats.replayed = corpus.length;
  replaying = false;
  if (!replayOnly) {
    await Promise.all(
      Array.from({ length: jobs }, async () => {
        while (Date.now() < deadline) {
          const c = pool.length && r.chance(0.4) ? mutateConfigCase(r, r.pick(pool), paths) : genConfigCase(r, paths);
          await runOne(c);
        }
      }),
    );
  }
  stats.features = seen.size;
  await up.close();
  return failures;
}

// ------------------------------------------------------------------------------------------------
// entry points
// ------------------------------------------------------------------------------------------------

/**
 * Runs the fuzzers. opts: {minutes, target, seed, replayOnly, inflight, configJobs, save, live, log}.
 * Resolves {ok, seconds, headers: stats, config: stats, failures: [...]}.
 */
export async function fuzz(opts = {}) {
  const {
    minutes = 10,
    target = 'both',
    seed = Date.now() % 2 ** 31,
    replayOnly = false,
    inflight = 6,
    configJobs = 2,
    save = !replayOnly,
    live = false,
    log = (m) => console.error(m),
    corpus,
  } = opts;
  if (corpus) corpusDir = path.resolve(corpus);
  let paths;
  if (live) {
    paths = {
      faultFilters: path.join(repoRoot, 'test', 'js', 'fault-filters.cjs'),
      jsDir: path.join(repoRoot, 'test', 'js'),
    };
  } else {
    const snap = snapshotBuild();
    process.env.NODEVOY_BUILD = snap.buildDir;
    paths = { faultFilters: path.join(snap.jsDir, 'fault-filters.cjs'), jsDir: snap.jsDir };
  }
  // the harness reads NODEVOY_BUILD when it loads
  const harness = await import(pathToFileURL(path.join(repoRoot, 'test', 'lib', 'harness.mjs')).href);
  const started = Date.now();
  const deadline = started + minutes * 60000;
  const mk = () => ({
    crashCases: [],
    budget504: 0,
    cases: 0,
    failed: 0,
    crashes: 0,
    hangs: 0,
    saved: 0,
    replayed: 0,
    features: 0,
    kinds: {},
    categories: {},
    verdicts: {},
  });
  const stats = { headers: mk(), config: mk() };
  log(
    `[fuzz] seed ${seed}, ${replayOnly ? 'replay only' : `${minutes} min`}, target ${target}, build ${harness.buildDir}`,
  );
  const ticker = setInterval(() => {
    log(
      `[fuzz] ${Math.round((Date.now() - started) / 1000)} s: headers ${stats.headers.cases} cases (${stats.headers.failed} failed), config ${stats.config.cases} cases (${stats.config.failed} failed)`,
    );
  }, 60000);
  ticker.unref();
  const jobs = [];
  if (target === 'both' || target === 'headers')
    jobs.push(
      headerLoop({ harness, paths, r: prng(seed), deadline, inflight, replayOnly, save, stats: stats.headers, log }),
    );
  if (target === 'both' || target === 'config')
    jobs.push(
      configLoop({
        harness,
        paths,
        r: prng(seed + 1),
        deadline,
        jobs: configJobs,
        replayOnly,
        save,
        stats: stats.config,
        log,
      }),
    );
  const failures = (await Promise.all(jobs)).flat();
  clearInterval(ticker);
  return { ok: failures.length === 0, seconds: (Date.now() - started) / 1000, seed, ...stats, failures };
}

function printSummary(s) {
  const lines = [
    '',
    `fuzz summary (seed ${s.seed}, ${s.seconds.toFixed(0)} s)`,
    `  headers/API: ${s.headers.cases} cases (${s.headers.replayed} replayed from the corpus), ${s.headers.failed} failed, ${s.headers.crashes} host crashes, ${s.headers.hangs} hung requests, ${s.headers.features} features, ${s.headers.saved} new corpus inputs`,
    `    outcomes: ${JSON.stringify(s.headers.kinds)}`,
    `  config:      ${s.config.cases} cases (${s.config.replayed} replayed from the corpus), ${s.config.failed} failed, ${s.config.crashes} host crashes, ${s.config.hangs} hangs, ${s.config.features} features, ${s.config.saved} new corpus inputs`,
    `    predicted: ${JSON.stringify(s.config.verdicts)}`,
    ...(s.config.crashCases.length
      ? [
          `    crashes: ${s.config.crashCases.filter((x) => x.deep).length} on documents nested ${[...new Set(s.config.crashCases.map((x) => x.deep).filter(Boolean))].join('/')} deep, ${s.config.crashCases.filter((x) => !x.deep).length} on others`,
        ]
      : []),
    ...Object.entries(s.config.categories)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `    ${String(v).padStart(6)}  ${k}`),
    `  result: ${s.ok ? 'no failure' : `${s.failures.length} distinct failure(s), inputs in ${findingsDir}`}`,
  ];
  console.log(lines.join('\n'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const opt = (name, def) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
  };
  const s = await fuzz({
    minutes: Number(opt('minutes', 10)),
    target: opt('target', 'both'),
    seed: opt('seed') !== undefined ? Number(opt('seed')) : undefined,
    replayOnly: argv.includes('--replay-only'),
    inflight: Number(opt('inflight', 6)),
    configJobs: Number(opt('config-jobs', 2)),
    save: !argv.includes('--no-save') && !argv.includes('--replay-only'),
    live: argv.includes('--live'),
    corpus: opt('corpus'),
  });
  printSummary(s);
  process.exit(s.ok ? 0 : 1);
}
