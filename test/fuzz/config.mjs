// The config fuzz target: each case is a filter_config document (a google.protobuf.Struct, or a
// StringValue holding JSON text) and optionally a per-route config, run by starting a nodevoy-host
// (1 worker, --check-lifetimes) with it. predict() derives the expected verdict from the documented
// rules (envoy-filter/filter_config.cc, lib/runtime.ts, the zod schemas in test/js/fault-filters.cjs):
//   - reject: the host exits non-zero (no signal) within 20 s and its log says "rejecting filter
//     config: <cause>" / "rejecting per-route config: <cause>" naming the cause we expect;
//   - accept: the host starts, answers a request with the merged config (fuzzConfig/echoConfig echo
//     ctx.config), and exits 0 on SIGTERM within 15 s;
//   - unknown (a corner the rules leave open): either, but still never a crash or a hang.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { proxyArgs } from '../lib/proxy.mjs';
import { canConnect } from '../lib/util.mjs';

export const START_TIMEOUT_MS = 20000;
// The proxy's own ready line: nodevoy-host's, or Envoy's once its workers start.
const READY = /nodevoy-host ready|starting main dispatch loop/;
export const STOP_TIMEOUT_MS = 15000;

// ------------------------------------------------------------------------------------------------
// generation
// ------------------------------------------------------------------------------------------------

const POLICY = ['failure_mode', 'failure_status', 'sync_budget_ms', 'async_budget_ms'];
const FIELD_DICT = [
  'modul',
  'Module',
  'module ',
  'config ',
  'filter_name',
  'x',
  '',
  '__proto__',
  'constructor',
  'failureMode',
  'é',
  'failure_mode\u0000',
  ...POLICY,
];
const FILTER_NAMES = [
  'fuzzConfig',
  'echoConfig',
  'cycle',
  'faults',
  'fuzzApi',
  'fuzzInternals',
  'nosuch',
  'toString',
  '__proto__',
  'constructor',
  'default',
  'hasOwnProperty',
  'Fuzzconfig',
  'fuzzConfig ',
  'é',
];

// An own property even for "__proto__" (plain assignment would set the prototype instead).
function own(obj, k, v) {
  Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function deep(depth, leaf) {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { d: v };
  return v;
}

export function genConfigCase(r, paths) {
  const { faultFilters, jsDir } = paths;
  const filterName = r.weighted([
    ['fuzzConfig', 45],
    ['echoConfig', 20],
    [r.pick(FILTER_NAMES), 15],
    ['cycle', 5],
    ['faults', 5],
    ['', 1],
  ]);
  const cfg = {};
  if (r.chance(0.6)) cfg.tag = r.pick(['a', 'tag', '', 'é😀', 'x'.repeat(64)]);
  if (r.chance(0.5)) cfg.n = r.int(0, 1000);
  if (r.chance(0.2)) cfg.list = ['a', 'b'].slice(0, r.int(0, 2));
  if (r.chance(0.2)) cfg.nested = { k: r.pick([1, 'v', null, true, [1, 2]]) };
  const doc = { module: faultFilters };
  if (r.chance(0.85)) doc.config = cfg;
  const c = { filterName, form: r.chance(0.6) ? 'struct' : 'string', doc };
  const rounds = r.weighted([
    [0, 3],
    [1, 4],
    [2, 2],
    [3, 1],
  ]);
  for (let i = 0; i < rounds; i++) {
    switch (r.int(0, 11)) {
      case 0:
        own(doc, r.chance(0.7) ? r.pick(FIELD_DICT) : `f${r.int(0, 99)}`, r.pick([1, 'x', null, true, {}, []]));
        break;
      case 1:
        delete doc.module;
        break;
      case 2:
        doc.module = r.pick([1, null, true, [], {}, '', ' ', faultFilters.toUpperCase(), `${faultFilters}\u0000x`]);
        break;
      case 3:
        doc.module = r.pick([
          path.join(jsDir, 'nope.cjs'),
          jsDir,
          '/dev/null',
          path.join(jsDir, 'syntax-error.cjs'),
          path.join(jsDir, 'throws-at-load.cjs'),
          path.join(jsDir, '..', 'js', 'fault-filters.cjs'),
          path.relative(process.cwd(), faultFilters),
          `/${'a'.repeat(r.int(200, 5000))}`,
          path.join(jsDir, 'esm-filter.mjs'),
          path.join(jsDir, '..', '..', 'package.json'),
          'relative/nope.cjs',
          `${faultFilters}/`,
        ]);
        break;
      case 4:
        doc.config = r.pick([
          'str',
          1,
          null,
          true,
          [],
          [1],
          { tag: 1 },
          { tag: 'x'.repeat(65) },
          { n: -1 },
          { n: 1.5 },
          { n: 1001 },
          { list: Array(9).fill('a') },
          { unknown: 1 },
          { nested: [] },
        ]);
        break;
      case 5:
        if (!isObj(doc.config)) doc.config = {};
        doc.config.tag = 'x'.repeat(r.pick([1000, 100000, 1000000]));
        break; // huge value (rejected by the schema's max)
      case 6: {
        // deep nesting: in a Struct up to 200 levels; in JSON text up to 100,000 (built as text)
        const depth = c.form === 'string' ? r.pick([10, 100, 1000, 10000, 100000]) : r.pick([10, 50, 200]);
        if (!isObj(doc.config)) doc.config = {};
        doc.config.nested = { deep: c.form === 'string' ? '@DEEP@' : deep(depth, 1) };
        if (c.form === 'string') c.deep = depth;
        break;
      }
      case 7:
        doc[r.pick(POLICY)] = r.pick([
          'fail_closed',
          'fail_open',
          'FAIL_OPEN',
          '',
          0,
          1,
          99,
          200,
          500,
          503,
          599,
          600,
          60000,
          60001,
          3600000,
          3600001,
          -1,
          1.5,
          1e21,
          '500',
          null,
          true,
          [],
          {},
        ]);
        break;
      case 8:
        doc.failure_mode = r.pick(['fail_closed', 'fail_open']);
        doc.failure_status = r.pick([200, 418, 503, 599]);
        break;
      case 9:
        c.form = 'string';
        c.text = mutateText(r, JSON.stringify(doc));
        break;
      case 10:
        c.filterName = r.pick(FILTER_NAMES);
        break;
      default:
        c.route = genRoute(r, c.filterName, paths);
        break;
    }
  }
  if (c.form === 'string' && c.text === undefined) c.text = JSON.stringify(c.doc);
  // (a deep text stays compact: "@DEEP@" in it expands to c.deep levels when the case runs)
  if (c.form === 'struct' && JSON.stringify(c.doc).includes('@DEEP@')) c.doc.config.nested.deep = 1;
  if (!(c.text ?? '').includes('"@DEEP@"')) delete c.deep;
  return JSON.parse(JSON.stringify(c)); // exactly what the host will be given, nothing JSON drops
}

function genRoute(r, filterName, { faultFilters }) {
  const route = {
    perRouteName: r.weighted([
      [filterName, 8],
      [r.pick(FILTER_NAMES), 1],
      [undefined, 1],
    ]),
    form: r.chance(0.6) ? 'struct' : 'string',
    doc: {},
  };
  if (r.chance(0.8))
    route.doc.config = r.weighted([
      [{ tag: 'route' }, 4],
      [{ n: r.int(0, 1000) }, 2],
      [{}, 1],
      [r.pick(['s', 1, null, [], { bad: 1 }, { n: -5 }, { tag: 'y'.repeat(65) }]), 2],
    ]);
  if (r.chance(0.15)) route.doc.module = r.pick([faultFilters, 1, '/nope.cjs', '']);
  if (r.chance(0.1)) own(route.doc, r.pick(FIELD_DICT), 1);
  if (route.form === 'string')
    route.text = r.chance(0.2) ? mutateText(r, JSON.stringify(route.doc)) : JSON.stringify(route.doc);
  return route;
}

function mutateText(r, text) {
  const i = r.int(0, text.length);
  switch (r.int(0, 11)) {
    case 0:
      return text.slice(0, i);
    case 1:
      return (
        text.slice(0, i) +
        r.pick(['{', '}', '[', ']', ',', ':', '"', '\\', '\u0000', '\n', 'é', '\ud800', '/*x*/', '1e999']) +
        text.slice(i)
      );
    case 2:
      return `\ufeff${text}`;
    case 3:
      return text.replace(/}$/, ',}');
    case 4:
      return r.pick([
        '',
        ' ',
        'null',
        '[]',
        '"str"',
        '{}',
        '1',
        'true',
        'module: x',
        '{"module":}',
        '{"module": "a", "module": "b"}',
      ]);
    case 5:
      return `${text}${text}`;
    case 6:
      return `${text} `;
    case 7:
      return text.replace('"module"', '"module","module":"/nope.cjs"'); // duplicate key
    case 8:
      return `[${text}]`;
    case 9:
      return text.replace(/"(\w+)":/, '"$1\\u0000":');
    case 10:
      return text.replace(/(\d+)/, '$1e400');
    default:
      return text.replace(
        /"config":\{/,
        `"config":{"deep":${'['.repeat(r.int(1000, 200000))}${']'.repeat(r.int(0, 1) ? 0 : 1)}`,
      );
  }
}

export function mutateConfigCase(r, base, paths) {
  const c = JSON.parse(JSON.stringify(base));
  switch (r.int(0, 5)) {
    case 0:
      if (c.text !== undefined) c.text = mutateText(r, c.text);
      break;
    case 1:
      c.filterName = r.pick(FILTER_NAMES);
      break;
    case 2:
      c.route = r.chance(0.7) ? genRoute(r, c.filterName, paths) : undefined;
      break;
    case 3:
      c.form = c.form === 'struct' ? 'string' : 'struct';
      c.text = c.form === 'string' ? JSON.stringify(c.doc) : undefined;
      delete c.deep;
      break;
    default:
      return genConfigCase(r, paths);
  }
  return c;
}

// ------------------------------------------------------------------------------------------------
// prediction
// ------------------------------------------------------------------------------------------------

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const hasLone = (s) => /(?:[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff])/.test(s);

/**
 * Parses JSON text the way the module does, as far as JS can tell; {unknown: true} where nlohmann and
 * JSON.parse may disagree (lone surrogates, number overflow, duplicate keys, a BOM).
 */
function parseText(text) {
  if (text === '') return { value: {} }; // the module reads empty as {}
  if (hasLone(text) || /\d[eE][+-]?\d{3,}/.test(text) || text.startsWith('\ufeff')) return { unknown: true };
  let dup = false;
  try {
    const value = JSON.parse(text, function reviver(k, v) {
      return v;
    });
    // duplicate keys: JSON.parse keeps the last, nlohmann the last too, but do not bet on it
    if (/"module"[\s\S]*"module"/.test(text) && (text.match(/"module"\s*:/g) || []).length > 1) dup = true;
    return dup ? { unknown: true } : { value };
  } catch (e) {
    // too deep for this JS engine's JSON.parse: the module's parser may well read it
    return e instanceof RangeError ? { unknown: true } : { invalid: true };
  }
}

function nesting(text) {
  let d = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 123 || ch === 91) max = Math.max(max, ++d);
    else if (ch === 125 || ch === 93) d--;
  }
  return max;
}

/** The filter_config text a case runs with ("@DEEP@" expanded to c.deep levels of nesting). */
export function textOf(c) {
  if (c.text === undefined || !c.deep) return c.text;
  return c.text.replace('"@DEEP@"', `${'{"d":['.repeat(c.deep)}1${']}'.repeat(c.deep)}`);
}

const isInt = (v) => typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < 1e21;

export function makePredictor({ faultFilters, hostCwd }) {
  const require = createRequire(import.meta.url);
  const ff = require(faultFilters);
  const FILTER_BRAND = Symbol.for('nodevoy.filter');
  const isFilterDef = (v) => typeof v === 'object' && v !== null && v[FILTER_BRAND] === true;
  const resolveModule = (m) => (m.startsWith('/') ? m : `${hostCwd}/${m}`);
  const sameFile = (p) => {
    try {
      return fs.realpathSync(p) === fs.realpathSync(faultFilters) && !p.endsWith('/');
    } catch {
      return false;
    }
  };

  // -> {verdict: 'accept'|'reject'|'unknown', causes?: [substring], config?: the merged config}
  // Envoy builds a route's per-route config before the filter config: when both are wrong, the route's
  // own fault (one that does not depend on the filter) may be the one named.
  function routeOwnCauses(rt) {
    let rdoc = rt.doc;
    if (rt.form === 'string') {
      const p = parseText(rt.text);
      if (p.unknown || rt.text.includes('\u0000')) return [];
      if (p.invalid) return ['is not valid JSON'];
      rdoc = p.value;
    }
    if (!isObj(rdoc)) return ['per-route filter_config must be a JSON object'];
    const extra = Object.keys(rdoc)
      .filter((k) => k !== 'config' && k !== 'module')
      .map((k) => `unknown field "${k}"`);
    if (extra.length) return extra;
    if ('config' in rdoc && !isObj(rdoc.config)) return ['per-route filter_config.config must be a JSON object'];
    if ('module' in rdoc && typeof rdoc.module !== 'string') return ['per-route filter_config.module must be a string'];
    if (!rt.perRouteName) return ['per_route_config_name is required'];
    if (
      typeof rdoc.module === 'string' &&
      rdoc.module &&
      !rdoc.module.includes('\u0000') &&
      !fs.existsSync(resolveModule(rdoc.module))
    )
      return ['does not exist'];
    return [];
  }
  return function predict(c) {
    const out = predictFilter(c);
    if (c.route && out.verdict !== 'accept' && out.causes?.length) out.causes.push(...routeOwnCauses(c.route));
    // Envoy's own JSON-to-proto parser refuses a deep Struct before the module sees it.
    if (out.causes?.includes('nested deeper than')) out.causes.push('too deeply nested');
    return out;
  };
  function predictFilter(c) {
    const reject = (...causes) => ({ verdict: 'reject', causes });
    const unknown = (why) => ({ verdict: 'unknown', why });
    let doc = c.doc;
    let deepText = false;
    if (c.form === 'string') {
      const text = textOf(c);
      deepText = nesting(text) > 500; // ctx.config that deep: echoing it may fail (stack), compare nothing
      if (nesting(text) > 64) {
        // see below: the depth limit; too deep for JSON.parse here is fine
        let parsed;
        try {
          parsed = JSON.parse(text);
        } catch (e) {
          parsed = e instanceof RangeError ? undefined : null;
        }
        const causes = ['nested deeper than', ...(parsed === null ? ['is not valid JSON'] : [])];
        if (parsed !== undefined && parsed !== null) {
          doc = parsed;
          const rest = predictShallow();
          if (rest.verdict === 'unknown') return unknown(`deep, and ${rest.why}`);
          if (rest.verdict === 'reject') causes.push(...(rest.causes ?? []));
        }
        return { verdict: nesting(text) > 1001 ? 'reject' : 'unknown', causes };
      }
      const p = parseText(text);
      if (p.unknown) return unknown('text nlohmann and JSON.parse may read differently');
      // a NUL in the text: the host's YAML reader may cut the text there, so the cause may differ
      if (text.includes('\u0000')) return p.invalid ? reject() : unknown('NUL in the text');
      if (p.invalid) return reject('is not valid JSON');
      doc = p.value;
    }
    // The module refuses documents nested deeper than its limit (kMaxDepth in filter_config.cc, being
    // tuned: 64 to 1000) with "… is nested deeper than N levels". Up to 64 levels nothing changes;
    // deeper, either verdict is fine, but a rejection must name the depth (or a cause found earlier).
    const depth = c.form === 'string' ? 0 : nesting(JSON.stringify(doc));
    if (depth > 64) {
      const rest = predictShallow();
      if (rest.verdict === 'unknown') return unknown(`deep, and ${rest.why}`);
      return {
        verdict: depth > 1001 ? 'reject' : 'unknown',
        causes: ['nested deeper than', ...(rest.verdict === 'reject' ? (rest.causes ?? []) : [])],
      };
    }
    return predictShallow();
    function predictShallow() {
      if (!isObj(doc)) return reject('filter_config must be a JSON object');
      const known = ['module', 'config', ...POLICY];
      const unknownKeys = Object.keys(doc).filter((k) => !known.includes(k));
      if (unknownKeys.length) return reject(...unknownKeys.map((k) => `unknown field "${k}"`));
      if (typeof doc.module !== 'string' || doc.module === '') return reject('filter_config.module is required');
      if ('failure_mode' in doc && doc.failure_mode !== 'fail_closed' && doc.failure_mode !== 'fail_open')
        return reject('failure_mode must be');
      for (const [k, lo, hi] of [
        ['failure_status', 200, 599],
        ['sync_budget_ms', 1, 60000],
        ['async_budget_ms', 1, 3600000],
      ]) {
        if (k in doc && !(isInt(doc[k]) && doc[k] >= lo && doc[k] <= hi))
          return reject(`${k} must be an integer from ${lo} to ${hi}`);
      }
      if (c.filterName === '') return reject('filter_name is required');
      if (doc.module.includes('\u0000')) return unknown('NUL in the module path');
      const modPath = resolveModule(doc.module);
      if (!fs.existsSync(modPath)) return reject('does not exist');
      if (!sameFile(modPath)) {
        // other files: a directory, /dev/null, package.json, a syntax error, a throwing bundle, ESM...
        if (/esm-filter\.mjs$/.test(modPath) && c.filterName === 'esm') return unknown('another bundle');
        return reject('cannot load filter');
      }
      const def = ff[c.filterName];
      if (def === undefined) return reject(`no filter named "${c.filterName}"`);
      if (!isFilterDef(def)) return reject('was not made with defineFilter');
      const raw = 'config' in doc ? doc.config : {};
      let config = raw;
      if (def.config) {
        const parsed = def.config.safeParse(raw);
        if (!parsed.success) return reject("does not match the filter's schema");
        config = parsed.data;
      }
      if (!c.route)
        return {
          verdict: 'accept',
          config: deepText ? undefined : config,
          echoes: !deepText && (c.filterName === 'fuzzConfig' || c.filterName === 'echoConfig'),
        };

      // per-route config
      const rt = c.route;
      let rdoc = rt.doc;
      if (rt.form === 'string') {
        const p = parseText(rt.text);
        if (p.unknown) return unknown('route text');
        if (rt.text.includes('\u0000')) return p.invalid ? reject() : unknown('NUL in the route text');
        if (p.invalid) return reject('is not valid JSON');
        rdoc = p.value;
      }
      if (nesting(rt.form === 'string' ? rt.text : JSON.stringify(rdoc)) > 64) return unknown('deep route config');
      if (!isObj(rdoc)) return reject('per-route filter_config must be a JSON object');
      const rUnknown = Object.keys(rdoc).filter((k) => k !== 'config' && k !== 'module');
      if (rUnknown.length) return reject(...rUnknown.map((k) => `unknown field "${k}"`));
      if ('config' in rdoc && !isObj(rdoc.config))
        return reject('per-route filter_config.config must be a JSON object');
      if ('module' in rdoc && typeof rdoc.module !== 'string')
        return reject('per-route filter_config.module must be a string');
      if (!rt.perRouteName) return reject('per_route_config_name is required');
      const rModule = rdoc.module ? resolveModule(rdoc.module) : '';
      let rdef;
      if (rt.perRouteName === c.filterName && (!rModule || rModule === modPath)) rdef = def;
      else if (rModule) {
        if (!fs.existsSync(rModule)) return reject('does not exist');
        if (!sameFile(rModule)) return unknown('route bundle');
        rdef = ff[rt.perRouteName];
        if (rdef === undefined) return reject(`no filter named "${rt.perRouteName}"`);
        if (!isFilterDef(rdef)) return reject('was not made with defineFilter');
      } else
        return unknown(
          `per-route config for "${rt.perRouteName}", not loaded yet: the module validates it when that filter loads (Envoy builds routes before filters)`,
        );
      const rraw = 'config' in rdoc ? rdoc.config : {};
      let rconfig = rraw;
      if (rdef.routeConfig) {
        const parsed = rdef.routeConfig.safeParse(rraw);
        if (!parsed.success) return reject("does not match the filter's schema");
        rconfig = parsed.data;
      }
      if (rdef !== def) return unknown('route config for another filter than the one on the chain');
      const merged = isObj(config) ? (isObj(rconfig) ? { ...config, ...rconfig } : config) : rconfig;
      return {
        verdict: 'accept',
        config: deepText ? undefined : merged,
        echoes: !deepText && (c.filterName === 'fuzzConfig' || c.filterName === 'echoConfig'),
      };
    }
  }
}

// ------------------------------------------------------------------------------------------------
// running a case
// ------------------------------------------------------------------------------------------------

function get(port, timeoutMs) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const chunks = [];
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ timedOut: true });
    }, timeoutMs);
    s.on('error', () => {});
    s.on('data', (d) => chunks.push(d));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(chunks) });
    });
    s.on('connect', () => s.write('GET /cfg HTTP/1.1\r\nhost: cfg\r\nconnection: close\r\n\r\n'));
  });
}

let tmpDir;
export function yamlFor(c, harness, ports) {
  const route = { prefix: '/', cluster: 'upstream' };
  if (c.route) {
    route.perFilter = {
      fuzzed: { perRouteName: c.route.perRouteName, config: c.route.form === 'string' ? c.route.text : c.route.doc },
    };
  }
  return harness.hostConfig({
    port: ports.port,
    filters: [
      { name: 'fuzzed', module: 'nodevoy', filterName: c.filterName, config: c.form === 'string' ? textOf(c) : c.doc },
    ],
    clusters: { upstream: ports.upstream },
    routes: [route],
  });
}

/** Runs one case; resolves {outcome: 'accepted'|'rejected'|'crash'|'hang', code, signal, stderr, response}. */
export async function runConfigCase(c, { harness, upstreamPort }) {
  if (!tmpDir) {
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-fuzz-config-'));
    const dir = tmpDir;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  const port = await harness.freePort();
  const yaml = yamlFor(c, harness, { port, upstream: upstreamPort });
  const file = path.join(tmpDir, `case-${process.pid}-${port}.yaml`);
  fs.writeFileSync(file, yaml);
  const proc = spawn(harness.hostBinary, ['-c', file, ...proxyArgs(harness.proxy, { concurrency: 1 })], {
    env: { ...process.env, ENVOY_DYNAMIC_MODULES_SEARCH_PATH: harness.buildDir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    if (stderr.length < 200000) stderr += d;
  });
  let exit = null;
  const exited = new Promise((resolve) =>
    proc.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    }),
  );
  const out = { yaml };
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let up = false;
    while (!exit && Date.now() < deadline) {
      // Our host's own ready line, not just an open port: a freePort() can be taken by another process while
      // this host is still loading (slow under ASan), and connecting to that one looked like "accepted".
      if (READY.test(stderr) && (await canConnect(port))) {
        up = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 15));
    }
    if (!up && !exit) {
      proc.kill('SIGKILL');
      await exited;
      return { ...out, outcome: 'hang', what: `neither started nor exited within ${START_TIMEOUT_MS} ms`, stderr };
    }
    if (exit && !up) {
      await new Promise((r) => (proc.stderr.readableEnded ? r() : proc.stderr.once('end', r)));
      return { ...out, outcome: exit.signal ? 'crash' : 'rejected', ...exit, stderr };
    }
    out.response = await get(port, 10000);
    proc.kill('SIGTERM');
    const t0 = Date.now();
    const done = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), STOP_TIMEOUT_MS).unref())]);
    if (!done) {
      proc.kill('SIGKILL');
      await exited;
      return { ...out, outcome: 'hang', what: `did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM`, stderr };
    }
    await new Promise((r) => (proc.stderr.readableEnded ? r() : proc.stderr.once('end', r)));
    out.stopMs = Date.now() - t0;
    return { ...out, outcome: done.signal ? 'crash' : 'accepted', ...done, stderr };
  } finally {
    if (!exit) proc.kill('SIGKILL');
    fs.rmSync(file, { force: true });
  }
}

/** The rejection message, as the module logged it (or the host's own, when it refused first). */
export function rejectionOf(stderr) {
  const m = /rejecting (?:filter|per-route) config: ([^\n]*)/.exec(stderr);
  if (m) return { by: 'module', message: m[1] };
  const h = /(?:error|rejected|invalid|unknown|cannot)[^\n]*/i.exec(stderr);
  return h ? { by: 'host', message: h[0] } : null;
}

/** Checks a run against the prediction: {failures, features, category}. */
export function checkConfig(c, run, pred) {
  const failures = [];
  const fail = (m) => failures.push(m);
  const features = new Set();
  const bad = /AddressSanitizer|runtime error:|LeakSanitizer|Segmentation fault/.exec(run.stderr || '');
  if (bad) fail(`sanitizer/crash report on stderr: ${bad[0]}`);
  let category = run.outcome;
  if (run.outcome === 'crash') fail(`host died with signal ${run.signal}`);
  if (run.outcome === 'hang') fail(`host hang: ${run.what}`);
  if (run.outcome === 'rejected') {
    if (run.code === 0) fail('host exited 0 without starting');
    const rej = rejectionOf(run.stderr);
    if (!rej) fail(`rejected without a message naming the cause:\n${run.stderr.slice(-1500)}`);
    else {
      category = `rejected:${rej.by}:${normalizeMessage(rej.message)}`;
      if (pred.verdict === 'accept') fail(`a valid config was rejected: ${rej.message.slice(0, 400)}`);
      // (compared up to a NUL: nodevoy-host's log line ends at a NUL byte in the message)
      // (whitespace collapsed: protobuf's messages space their words irregularly on purpose)
      const said = run.stderr.replace(/\s+/g, ' ');
      if (
        (pred.verdict === 'reject' || pred.verdict === 'unknown') &&
        pred.causes?.length &&
        !pred.causes.some((k) => said.includes(k.split('\u0000')[0]))
      )
        fail(
          `rejected, but the message does not name the cause (expected one of ${JSON.stringify(pred.causes)}): ${rej.message.slice(0, 400)}`,
        );
      if (rej.by === 'host' && pred.verdict === 'reject') category = `rejected:host:${normalizeMessage(rej.message)}`;
    }
  }
  if (run.outcome === 'accepted') {
    if (run.code !== 0) fail(`exit code ${run.code} after SIGTERM`);
    if (pred.verdict === 'reject') fail(`accepted a config that should be rejected (${pred.causes?.join(' | ')})`);
    const resp = run.response;
    if (!resp || resp.timedOut) fail('the started host did not answer a request within 10 s');
    else if (pred.verdict === 'accept' && pred.echoes) {
      const text = resp.bytes.toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      let got;
      try {
        got = JSON.parse(body);
      } catch {
        got = Symbol('unparsable');
      }
      if (status !== 200) fail(`request answered ${status}: ${body.slice(0, 300)}`);
      // (key order is not kept: the module's JSON parser stores objects sorted)
      else if (canonical(got) !== canonical(pred.config))
        fail(`ctx.config is ${body.slice(0, 300)}, expected ${JSON.stringify(pred.config).slice(0, 300)}`);
    }
  }
  features.add(`${c.form}:${c.route ? `route-${c.route.form}` : 'noroute'}:${category}`);
  features.add(`pred:${pred.verdict}:${category}`);
  return { failures, features, category };
}

function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

export function normalizeMessage(m) {
  return m
    .replace(/\/[^\s"':]+/g, '<path>')
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\d+/g, 'N')
    .replace(/at line N, column N/g, '')
    .slice(0, 90);
}
