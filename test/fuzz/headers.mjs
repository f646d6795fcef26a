// The header/API fuzz target: one long-running nodevoy-host (2 workers, --check-lifetimes) with the
// `fuzzApi` filter of test/js/fault-filters.cjs in front of a raw TCP upstream that echoes the exact
// request head it received (base64) as its body. Each case is one program of SDK calls (gen.mjs);
// the client reads the exact response bytes. check() predicts every call's outcome from the SDK's
// documented rules and compares:
//   - each call: success, or the typed error the rules name (InvalidHeaderError, InvalidResponseError,
//     TypeError), never anything else; reads return what the model holds (read-your-writes);
//   - the wire: every header the filter managed to set/append reaches the upstream (request) or the
//     client (response) byte for byte, deleted ones are gone, and nothing else appears (so a value the
//     SDK refused never reaches the wire);
//   - a successful ctx.respond() is the response: its status, its headers;
//   - a `throw` op fails the request with a 500; every request gets a response (15 s deadline);
//   - the host never crashes (exit, signal, "AddressSanitizer", "runtime error" on stderr).
import net from 'node:net';
import { createRequire } from 'node:module';

const TOKEN = /^:?[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const validName = (n) => typeof n === 'string' && TOKEN.test(n);
// Pseudo-header values must keep the request/status line intact (lib/validate.ts).
const PSEUDO = {
  ':status': /^[1-5][0-9][0-9]$/,
  ':method': /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/,
  ':path': /^[^\s\x00-\x1f\x7f]+$/,
  ':scheme': /^[A-Za-z][A-Za-z0-9+.-]*$/,
  ':authority': /^[^\s\x00-\x1f\x7f/?#@]+$/,
};
const validValue = (v, name = '') => {
  if (typeof v !== 'string' || /[\r\n\0]/.test(v)) return false;
  const n = name.toLowerCase();
  return !Object.hasOwn(PSEUDO, n) || PSEUDO[n].test(v);
};
const utf8 = (s) => Buffer.from(s, 'utf8');
const norm = (s) => utf8(s).toString('utf8'); // what a JS string reads back as after a UTF-8 round trip
// Headers whose wire form the proxy owns (framing, forwarding): only checked loosely.
const HOST_OWNED_REQ = new Set(['x-forwarded-proto', 'content-length', 'transfer-encoding']);
const HOST_OWNED_RES = new Set(['content-length', 'transfer-encoding', 'connection', 'x-nodevoy-fuzz-results']);
// What Envoy's connection manager does to a response after the filters (measured on 1.39 and 1.40;
// the host does the same): these never reach the client, `server` is always "envoy", `date` is added
// when the response has none.
const STRIPPED_RES = new Set(['connection', 'proxy-connection', 'transfer-encoding', 'upgrade']);
const AS_HOST = (k) => k.length > 1 && k.startsWith(':a');
// The router refuses a request header value with a control character other than tab, or DEL: a 503
// ("invalid header value for: <name>"), the upstream never sees the request.
const REFUSED_VALUE = (b) => b.some((c) => (c < 0x20 && c !== 0x09) || c === 0x7f);
// The router tells the upstream the route timeout (startHeaderTarget's route: 10 s).
const ROUTER_REQ = [['x-envoy-expected-rq-timeout-ms', '10000']];
// Envoy's inline headers (its startup log, "HTTP header map info"; the same on 1.39 and 1.40): a second
// value added to one joins the first with ",".
const INLINE = {
  req: new Set(
    (
      ':authority :method :path :protocol :scheme accept accept-encoding access-control-request-headers ' +
      'access-control-request-method access-control-request-private-network authentication authorization cache-control ' +
      'cdn-loop connection content-encoding content-length content-type expect grpc-accept-encoding grpc-timeout if-match ' +
      'if-modified-since if-none-match if-range if-unmodified-since keep-alive origin pragma proxy-connection proxy-status ' +
      'referer te transfer-encoding upgrade user-agent via x-client-trace-id x-envoy-attempt-count x-envoy-decorator-operation ' +
      'x-envoy-downstream-service-cluster x-envoy-downstream-service-node x-envoy-expected-rq-timeout-ms ' +
      'x-envoy-external-address x-envoy-force-trace x-envoy-hedge-on-per-try-timeout x-envoy-internal x-envoy-ip-tags ' +
      'x-envoy-is-timeout-retry x-envoy-max-retries x-envoy-original-host x-envoy-original-path x-envoy-original-url ' +
      'x-envoy-retriable-header-names x-envoy-retriable-status-codes x-envoy-retry-grpc-on x-envoy-retry-on ' +
      'x-envoy-upstream-alt-stat-name x-envoy-upstream-rq-per-try-timeout-ms x-envoy-upstream-rq-timeout-alt-response ' +
      'x-envoy-upstream-rq-timeout-ms x-envoy-upstream-stream-duration-ms x-forwarded-client-cert x-forwarded-for ' +
      'x-forwarded-host x-forwarded-port x-forwarded-proto x-request-id'
    ).split(' '),
  ),
  res: new Set(
    (
      ':status access-control-allow-credentials access-control-allow-headers access-control-allow-methods ' +
      'access-control-allow-origin access-control-allow-private-network access-control-expose-headers access-control-max-age ' +
      'age cache-control connection content-encoding content-length content-type date etag expires grpc-message grpc-status ' +
      'keep-alive last-modified location proxy-connection proxy-status server transfer-encoding upgrade vary via ' +
      'x-envoy-attempt-count x-envoy-decorator-operation x-envoy-degraded x-envoy-immediate-health-check-fail ' +
      'x-envoy-ratelimited x-envoy-upstream-canary x-envoy-upstream-healthchecked-cluster x-envoy-upstream-service-time ' +
      'x-request-id'
    ).split(' '),
  ),
};
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'te', 'upgrade', 'keep-alive', 'expect']);
// Longer than the module's default async budget (15 s), so a budget 504 shows as such, not as a hang.
export const CASE_TIMEOUT_MS = 25000;

// ------------------------------------------------------------------------------------------------
// the target: upstream + host
// ------------------------------------------------------------------------------------------------

const UP_SEED = Buffer.from('x-up-seed: caf\xe9 \x80ok', 'latin1');

function startRawUpstream() {
  const sockets = new Set();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = Buffer.alloc(0);
    let answered = false;
    let idle;
    const answer = () => {
      if (answered) return;
      answered = true;
      clearTimeout(idle);
      const i = buf.indexOf('\r\n\r\n');
      const body = Buffer.from(buf.subarray(0, i + 4).toString('base64'));
      s.end(
        Buffer.concat([
          Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n`),
          UP_SEED,
          Buffer.from('\r\nconnection: close\r\n\r\n'),
          body,
        ]),
      );
    };
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0 || answered) return;
      const head = buf.subarray(0, i).toString('latin1').toLowerCase();
      const cl = /\r\ncontent-length: *(\d+)\r?/.exec(`${head}\r\n`);
      const chunked = /\r\ntransfer-encoding: *chunked/.test(head);
      const rest = buf.length - (i + 4);
      if (chunked) {
        if (buf.subarray(i + 4).includes('0\r\n\r\n')) answer();
      } else if (cl && /^\d+$/.test(cl[1])) {
        if (rest >= Number(cl[1])) answer();
      } else if (!/\r\n(content-length|transfer-encoding):/.test(`\r\n${head}`)) {
        answer();
      }
      clearTimeout(idle);
      idle = setTimeout(answer, 100); // framing the filter broke: answer anyway
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        close: () =>
          new Promise((r) => {
            server.close(() => r());
            for (const s of sockets) s.destroy();
          }),
      }),
    );
  });
}

export async function startHeaderTarget({ harness, faultFilters, concurrency = 2 }) {
  const require = createRequire(import.meta.url);
  const { decode } = require(faultFilters).fuzzInternals;
  const up = await startRawUpstream();
  let host;
  let stderrSeen = 0;
  const start = async () => {
    const port = await harness.freePort();
    const yaml = harness
      .hostConfig({
        port,
        adminPort: await harness.freePort(),
        // sync_budget_ms 5000: the time budgets are not this target's subject, and the default (a wall-clock
        // budget) stops ordinary handlers when the machine is overloaded
        filters: [{ module: 'nodevoy', filterName: 'fuzzApi', config: { module: faultFilters, sync_budget_ms: 5000 } }],
        clusters: { upstream: up.port },
        routes: [{ prefix: '/', cluster: 'upstream', timeout: '10s' }],
      })
      .replace(/connect_timeout: "1s"/g, 'connect_timeout: "5s"'); // the upstream lives in this (busy) process
    host = await harness.startHost(yaml, { concurrency, logLevel: 'warning' });
    stderrSeen = 0;
  };
  await start();
  return {
    decode,
    get host() {
      return host;
    },
    /** Problems the host reported on stderr since the last call (ASan, UBSan, fatal aborts). */
    stderrProblems() {
      const err = host.stderr();
      const fresh = err.slice(stderrSeen);
      stderrSeen = err.length;
      const bad = fresh
        .split('\n')
        .filter((l) =>
          /AddressSanitizer|runtime error:|LeakSanitizer|\bFATAL\b|fatal error|Segmentation fault|Aborted/i.test(l),
        );
      return bad;
    },
    /** The host's log lines about time budgets (the watchdog, abandoned handlers) seen so far. */
    budgetLines: () =>
      host
        .stderr()
        .split('\n')
        .filter((l) => /time budget|did not settle|abandoned/.test(l)),
    alive: () => host.proc.exitCode === null && host.proc.signalCode === null,
    exitInfo: () => ({ code: host.proc.exitCode, signal: host.proc.signalCode, stderr: host.stderr().slice(-4000) }),
    restart: async () => {
      try {
        await host.stop();
      } catch {
        /* already gone */
      }
      await start();
    },
    async stop() {
      const code = await host.stop();
      await up.close();
      const { signal } = await host.exited;
      return { code, signal, stderr: host.stderr() };
    },
    run: (prog) => runCase(host.port, prog),
  };
}

// ------------------------------------------------------------------------------------------------
// one case on the wire
// ------------------------------------------------------------------------------------------------

export function requestBytes(prog, id = 0) {
  const seeds = (prog.seeds || []).map((s) =>
    Buffer.concat([Buffer.from(`${s.name}: `), Buffer.from(s.value, 'base64'), Buffer.from('\r\n')]),
  );
  const json = JSON.stringify(prog);
  if (prog.via === 'body') {
    const body = Buffer.from(json);
    return Buffer.concat([
      Buffer.from(`POST /fuzz/${id} HTTP/1.1\r\nhost: fuzz\r\nconnection: close\r\ncontent-length: ${body.length}\r\n`),
      ...seeds,
      Buffer.from('\r\n'),
      body,
    ]);
  }
  const b64 = Buffer.from(json).toString('base64');
  return Buffer.concat([
    Buffer.from(`GET /fuzz/${id} HTTP/1.1\r\nhost: fuzz\r\nconnection: close\r\nx-fuzz-ops: ${b64}\r\n`),
    ...seeds,
    Buffer.from('\r\n'),
  ]);
}

function runCase(port, prog) {
  const raw = requestBytes(prog);
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const chunks = [];
    let error = null;
    let done = false;
    const finish = (timedOut) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ bytes: Buffer.concat(chunks), error, timedOut });
    };
    const timer = setTimeout(() => finish(true), CASE_TIMEOUT_MS);
    s.on('data', (d) => chunks.push(d));
    s.on('error', (e) => {
      error = e.code || e.message;
    });
    s.on('close', () => finish(false));
    s.on('connect', () => s.write(raw));
  });
}

/** Splits raw HTTP/1.1 bytes into {firstLine, headers: [[lowercased name, Buffer value]], body}. */
export function parseHead(bytes) {
  const i = bytes.indexOf('\r\n\r\n');
  if (i < 0) return null;
  const lines = [];
  let start = 0;
  const head = bytes.subarray(0, i);
  for (;;) {
    const j = head.indexOf('\r\n', start);
    lines.push(head.subarray(start, j < 0 ? head.length : j));
    if (j < 0) break;
    start = j + 2;
  }
  const headers = [];
  for (const l of lines.slice(1)) {
    const c = l.indexOf(': ');
    if (c < 0) headers.push([l.toString('latin1').toLowerCase(), Buffer.alloc(0), true]);
    else headers.push([l.subarray(0, c).toString('latin1').toLowerCase(), l.subarray(c + 2)]);
  }
  return { firstLine: lines[0], headers, body: bytes.subarray(i + 4) };
}

// ------------------------------------------------------------------------------------------------
// the model
// ------------------------------------------------------------------------------------------------

// Envoy's header map as a module sees it: in a request map "host" is ":authority"; set() with an empty
// value removes, add() with one adds nothing; a second value of an inline header joins the first with ",".
class Model {
  constructor(init, seeds, side) {
    this.side = side;
    // [name, Buffer]; values from the filter's own first snapshot, seeds with their exact bytes
    this.e = init.map(([k, v]) => [k, seeds.get(k) ?? utf8(v)]);
  }
  key(n) {
    return this.side === 'req' && n === 'host' ? ':authority' : n;
  }
  all(n) {
    const k = this.key(n);
    return this.e.filter(([x]) => x === k).map(([, v]) => v);
  }
  set(n, b) {
    this.del(n);
    this.add(n, b);
  }
  add(n, b) {
    if (b.length === 0) return;
    const k = this.key(n);
    const first = INLINE[this.side]?.has(k) ? this.e.find(([x]) => x === k) : undefined;
    if (first) first[1] = Buffer.concat([first[1], Buffer.from(','), b]);
    else this.e.push([k, b]);
  }
  del(n) {
    const k = this.key(n);
    this.e = this.e.filter(([x]) => x !== k);
  }
  names() {
    return new Set(this.e.map(([k]) => k));
  }
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const eqNum = (a, b) => (Number.isNaN(a) && Number.isNaN(b)) || a === b;
function encodeNum(n) {
  if (typeof n !== 'number') return n;
  if (Number.isNaN(n) || !Number.isFinite(n)) return { $: String(n) };
  if (Object.is(n, -0)) return { $: '-0' };
  return n;
}

/** Coarse class of a value for the corpus's feature map: its most hostile character class and a length bucket. */
export function cls(v) {
  if (typeof v !== 'string') {
    if (v && typeof v === 'object' && typeof v.$ === 'string') return `t:${v.$}`;
    return `t:${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v}`;
  }
  const tests = [
    ['nul', /\0/],
    ['cr', /\r/],
    ['lf', /\n/],
    ['lone', /(?:[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff])/],
    ['ctl', /[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]/],
    ['astral', /[\ud800-\udbff][\udc00-\udfff]/],
    ['bmp', /[\u0100-\ud7ff\ue000-\uffff]/],
    ['latin1', /[\x80-\xff]/],
    ['pseudo', /^:/],
    ['sep', /[:;,="()/@[\]?{}\\]/],
    ['ws', /[ \t]/],
    ['tok', /./],
  ];
  const c = tests.find(([, re]) => re.test(v))?.[0] ?? 'empty';
  const len = v.length === 0 ? '0' : v.length <= 256 ? 's' : v.length <= 4096 ? 'l' : 'xl';
  return `${c}/${len}`;
}

/**
 * Checks one case. Returns {failures: [string], features: Set<string>, kind}.
 * `decode` is the filter's own value decoder (so both sides see the same JS values).
 */
export function check(prog, result, decode) {
  const failures = [];
  const features = new Set([`mode:${prog.mode}/${prog.via}`]);
  const fail = (m) => failures.push(m);
  if (result.timedOut) {
    fail(`no response within ${CASE_TIMEOUT_MS} ms (hung request)`);
    return { failures, features, kind: 'hung' };
  }
  const res = parseHead(result.bytes);
  if (!res) {
    fail(`connection closed without a response head (error ${result.error}, ${result.bytes.length} bytes)`);
    return { failures, features, kind: 'no-response' };
  }
  const statusLine = res.firstLine.toString('latin1');
  const status = Number(/^HTTP\/1\.1 (-?\d+)/.exec(statusLine)?.[1]);
  const wireRes = res.headers;
  const resultsHeader = wireRes.find(([k]) => k === 'x-nodevoy-fuzz-results');
  const seeds = new Map((prog.seeds || []).map((s) => [s.name, Buffer.from(s.value, 'base64')]));
  let touchedFraming = false;

  // ---- predict the phases' call outcomes ----------------------------------------------------
  // Returns {stop: 'reply'|'throw'|null, reply?} after comparing each op with its recorded result.
  const runPhase = (phase, ops, recorded, model) => {
    for (let j = 0; j < ops.length; j++) {
      const op = ops[j];
      const got = recorded?.[j];
      if (op.op === 'throw') return { stop: 'throw' };
      const name = decode(op.name);
      const value = decode(op.value);
      let exp; // {ok: true, r?, anyR?} | {e: [names]}
      const IHE = { e: ['InvalidHeaderError'] };
      switch (op.op) {
        case 'set':
        case 'append':
          if (!validName(name) || !validValue(value, name)) exp = IHE;
          else {
            exp = { ok: true };
            const n = name.toLowerCase();
            if (phase === 'res' && (FRAMING.has(n) || n === ':status')) touchedFraming = true;
            if (got?.ok) op.op === 'set' ? model.set(n, utf8(value)) : model.add(n, utf8(value));
          }
          break;
        case 'delete':
          if (!validName(name)) exp = IHE;
          else {
            exp = { ok: true };
            const n = name.toLowerCase();
            if (phase === 'res' && (FRAMING.has(n) || n === ':status')) touchedFraming = true;
            if (got?.ok) model.del(n);
          }
          break;
        case 'get':
          exp = validName(name)
            ? { ok: true, r: model.all(name.toLowerCase()).map((b) => b.toString('utf8'))[0] ?? null }
            : IHE;
          break;
        case 'getAll':
          exp = validName(name) ? { ok: true, r: model.all(name.toLowerCase()).map((b) => b.toString('utf8')) } : IHE;
          break;
        case 'has':
          exp = validName(name) ? { ok: true, r: model.all(name.toLowerCase()).length > 0 } : IHE;
          break;
        case 'entries': {
          exp = { ok: true, entries: true };
          break;
        }
        case 'meta': {
          if (!['string', 'number', 'boolean'].includes(typeof value)) exp = { e: ['TypeError'] };
          else exp = { ok: true, r: typeof value === 'string' ? norm(value) : encodeNum(value) };
          break;
        }
        case 'fs': {
          if (typeof value === 'string') exp = { ok: true, r: norm(value) };
          else if (value instanceof Uint8Array) exp = { ok: true, r: Buffer.from(value).toString('utf8') };
          else exp = { e: ['TypeError'] };
          break;
        }
        case 'status': {
          if (typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599) {
            exp = { ok: true, r: value };
            touchedFraming = true; // 1xx/204/304 change the framing
            if (got?.ok) model.set(':status', utf8(String(value)));
          } else exp = { e: ['InvalidResponseError'] };
          break;
        }
        case 'respond': {
          const st = decode(op.status);
          const hdrs = decode(op.headers);
          exp = null;
          const flat = [];
          for (const [k, v] of Object.entries(hdrs ?? {})) {
            if (!validName(k) || !validValue(v, k)) {
              exp = IHE;
              break;
            }
            flat.push([k.toLowerCase(), utf8(v)]);
          }
          if (!exp) {
            if (typeof st === 'number' && Number.isInteger(st) && st >= 200 && st <= 599)
              exp = { ok: true, r: st, reply: { status: st, headers: flat } };
            else exp = { e: ['InvalidResponseError'] };
          }
          break;
        }
        case 'sleep':
          exp = { ok: true, anyR: true };
          break;
        case 'body':
          exp = { ok: true, anyR: true, orE: ['InvalidStateError'] };
          break;
        default:
          exp = { ok: true, anyR: true };
      }
      if (recorded && got === undefined) {
        // a successful respond op is the reply itself: its outcome is not in the reply's body
        if (exp.reply) return { stop: 'reply', reply: exp.reply };
        fail(`${phase}[${j}] ${op.op}: no outcome recorded (expected ${exp.e ? exp.e.join('|') : 'success'})`);
        return { stop: 'missing' };
      }
      const outcome = got ? (got.ok ? 'ok' : got.e) : 'unrecorded';
      if (got) {
        features.add(`${phase}:${op.op}:${outcome}`);
        if (op.name !== undefined) features.add(`${op.op}:${outcome}:name=${cls(name)}`);
        if (op.value !== undefined) features.add(`${op.op}:${outcome}:value=${cls(value)}`);
        if (op.op === 'respond') {
          features.add(`respond:${outcome}:status=${typeof decode(op.status)}`);
          for (const [k, v] of Object.entries(decode(op.headers) ?? {})) {
            features.add(`respond-header:${outcome}:name=${cls(k)}`);
            features.add(`respond-header:${outcome}:value=${cls(v)}`);
          }
        }
      }
      if (!got) {
        // the reply carried no results (204/304 have no body): only the reply itself can be checked
        if (exp.reply) return { stop: 'reply', reply: exp.reply };
        continue;
      }
      if (exp.e) {
        if (got.ok)
          fail(
            `${phase}[${j}] ${op.op}(${JSON.stringify(op.name)}, ${JSON.stringify(op.value ?? op.status)}): succeeded, expected ${exp.e.join('|')}`,
          );
        else if (!exp.e.includes(got.e))
          fail(`${phase}[${j}] ${op.op}: threw ${got.e} (${got.m}), expected ${exp.e.join('|')}`);
        continue;
      }
      if (!got.ok) {
        if (exp.orE?.includes(got.e)) continue;
        fail(
          `${phase}[${j}] ${op.op}(${JSON.stringify(op.name)}, ${JSON.stringify(op.value ?? op.status)}): threw ${got.e} ${got.c ?? ''} (${got.m}), expected success`,
        );
        continue;
      }
      if (exp.entries) {
        const byName = (list) => {
          const m = new Map();
          for (const [k, v] of list) m.set(k, [...(m.get(k) || []), v]);
          return m;
        };
        const gotMap = byName(got.r);
        const expMap = byName(model.e.map(([k, b]) => [k, b.toString('utf8')]));
        for (const k of new Set([...gotMap.keys(), ...expMap.keys()])) {
          if (!same(gotMap.get(k), expMap.get(k)))
            fail(
              `${phase}[${j}] entries(): ${JSON.stringify(k)} is ${JSON.stringify(gotMap.get(k))}, model says ${JSON.stringify(expMap.get(k))}`,
            );
        }
      } else if (!exp.anyR && 'r' in exp) {
        const gr = op.op === 'meta' ? decode(got.r) : got.r;
        const er = op.op === 'meta' ? decode(exp.r) : exp.r;
        const equal = typeof er === 'number' ? eqNum(gr, er) || (gr === 0 && er === 0) : same(gr, er);
        if (!equal)
          fail(
            `${phase}[${j}] ${op.op}(${JSON.stringify(op.name)}): returned ${JSON.stringify(got.r)}, model says ${JSON.stringify(exp.r)}`,
          );
      }
      if (exp.reply) return { stop: 'reply', reply: exp.reply };
    }
    return { stop: null };
  };

  // ---- which response is this? --------------------------------------------------------------
  let results = null;
  let replyBody = null;
  if (resultsHeader) {
    // (a fuzzed ctx.respond may carry a header of that name too: then the body has the results)
    try {
      results = JSON.parse(Buffer.from(resultsHeader[1].toString('latin1'), 'base64').toString('utf8'));
    } catch {
      results = null;
    }
  }
  if (!results) {
    try {
      replyBody = JSON.parse(res.body.toString('utf8'));
    } catch {
      /* not a reply from a respond op */
    }
    if (replyBody?.results) results = replyBody.results;
  }

  const reqModel = new Model(results?.reqInit ?? [], seeds, 'req');
  // the read path: the seeds the client sent read back as their UTF-8 decoding
  if (results?.reqInit) {
    for (const [name, bytes] of seeds) {
      const seen = results.reqInit.filter(([k]) => k === name).map(([, v]) => v);
      if (!same(seen, [bytes.toString('utf8')]))
        fail(
          `request header ${name} read as ${JSON.stringify(seen)}, sent ${JSON.stringify(bytes.toString('latin1'))}`,
        );
    }
  }
  const reqOut = runPhase('req', prog.req, results?.req, reqModel);
  let resOut = { stop: null };
  let resModel = null;
  const refused = [':method', ':path'].find((k) => !reqModel.all(k).length)
    ? [':method/:path missing']
    : reqModel.e.find(([k, b]) => !k.startsWith(':') && REFUSED_VALUE(b));
  if (!reqOut.stop && results?.resInit) {
    resModel = new Model(results.resInit, new Map([['x-up-seed', UP_SEED.subarray(UP_SEED.indexOf(': ') + 2)]]), 'res');
    const upSeen = results.resInit.filter(([k]) => k === 'x-up-seed').map(([, v]) => v);
    if (refused) {
      if (results.resInit.find(([k]) => k === ':status')?.[1] !== '503')
        fail(`request header ${refused[0]} has a value the router refuses, but the response is not its 503`);
    } else if (!same(upSeen, [UP_SEED.subarray(11).toString('utf8')]))
      fail(`response header x-up-seed read as ${JSON.stringify(upSeen)}`);
    resOut = runPhase('res', prog.res, results.res, resModel);
  } else if (!reqOut.stop) {
    // no results (a 204/304 reply has no body): predict the response phase blind
    resOut = runPhase('res', prog.res, undefined, new Model([], new Map(), 'res'));
  }
  const stop = reqOut.stop ?? resOut.stop;
  features.add(`final:${stop ?? 'normal'}:${Math.floor(status / 100)}xx`);

  if (stop === 'throw' || stop === 'maybe-throw') {
    if (status !== 500) fail(`a throwing handler answered ${statusLine}, expected 500`);
    return { failures, features, kind: 'throw' };
  }
  if (stop === 'missing') return { failures, features, kind: 'missing' };
  if (stop === 'reply') {
    const reply = reqOut.reply ?? resOut.reply;
    if (status !== reply.status) fail(`ctx.respond(${reply.status}) answered ${statusLine}`);
    checkReplyHeaders(reply.headers, wireRes, fail);
    return { failures, features, kind: 'reply' };
  }
  if (!results) {
    fail(`no x-nodevoy-fuzz-results and no reply body: ${statusLine} ${res.body.toString('utf8').slice(0, 200)}`);
    return { failures, features, kind: 'no-results' };
  }

  // ---- the wire ------------------------------------------------------------------------------
  // response: status line and every header the model holds, byte for byte
  const expStatus = resModel.all(':status')[0]?.toString('latin1');
  if (expStatus !== undefined && /^\d{1,6}$/.test(expStatus) && Number(expStatus) !== status)
    fail(`status line ${statusLine}, model says ${expStatus}`);
  const toClient = new Model([], new Map(), 'res');
  toClient.e = resModel.e.filter(([k]) => !STRIPPED_RES.has(k) && k !== 'server');
  // Envoy's HTTP/1 encoder writes every pseudo-header named ":a..." as a Host line (responses too)
  toClient.e = toClient.e.map(([k, v]) => [AS_HOST(k) ? 'host' : k, v]);
  toClient.e.push(['server', Buffer.from('envoy')]);
  if (!toClient.all('date').length) {
    const date = wireRes.filter(([k]) => k === 'date');
    if (date.length !== 1) fail(`response has ${date.length} date headers, expected the proxy's one`);
    toClient.e.push(...date.map(([k, v]) => [k, v]));
  }
  compareWire('response', toClient, wireRes, HOST_OWNED_RES, fail);
  // request, as the upstream saw it (in the body, unless the status forbids one)
  const bodyless = status === 204 || status === 304 || (status >= 100 && status < 200);
  if (refused) features.add('wire:router-refused');
  else if (!bodyless && !touchedFraming) {
    let up;
    try {
      up = parseHead(Buffer.from(res.body.toString('latin1'), 'base64'));
    } catch {
      up = null;
    }
    if (!up) fail(`the upstream's echo is unreadable: ${res.body.toString('latin1').slice(0, 120)}`);
    else {
      const first = (n) => reqModel.all(n)[0];
      const line = Buffer.concat([
        first(':method') ?? Buffer.from('GET'),
        Buffer.from(' '),
        first(':path') ?? Buffer.from('/'),
        Buffer.from(' HTTP/1.1'),
      ]);
      if (!line.equals(up.firstLine))
        fail(
          `upstream request line ${JSON.stringify(up.firstLine.toString('latin1'))}, model says ${JSON.stringify(line.toString('latin1'))}`,
        );
      const expHost = reqModel.e.filter(([k]) => AS_HOST(k)).map(([, v]) => v);
      const wireHost = up.headers.filter(([k]) => k === 'host').map(([, v]) => v);
      const sorted = (l) => l.map((b) => b.toString('latin1')).sort();
      if (!same(sorted(expHost), sorted(wireHost)))
        fail(
          `upstream host lines ${JSON.stringify(wireHost.map(String))}, model says ${JSON.stringify(expHost.map(String))}`,
        );
      const toUpstream = new Model([], new Map(), 'req');
      toUpstream.e = reqModel.e.filter(([k]) => !ROUTER_REQ.some(([r]) => r === k));
      toUpstream.e.push(...ROUTER_REQ.map(([k, v]) => [k, Buffer.from(v)]));
      compareWire('request', toUpstream, up.headers, new Set([...HOST_OWNED_REQ, 'host']), fail);
    }
  } else if (touchedFraming) features.add('wire:framing-touched');
  return { failures, features, kind: 'normal' };
}

function compareWire(what, model, wire, hostOwned, fail) {
  const names = new Set([...model.names(), ...wire.map(([k]) => k)]);
  for (const n of names) {
    if (n.startsWith(':') || hostOwned.has(n)) continue;
    const exp = model.all(n).map((b) => b.toString('latin1'));
    const got = wire.filter(([k]) => k === n).map(([, v]) => v.toString('latin1'));
    if (!same(exp, got))
      fail(
        `${what} header ${JSON.stringify(n)} on the wire is ${JSON.stringify(got)}, model says ${JSON.stringify(exp)}`,
      );
  }
  for (const [k, , broken] of wire)
    if (broken) fail(`${what}: a header line without ": " on the wire: ${JSON.stringify(k)}`);
}

function checkReplyHeaders(flat, wire, fail) {
  const byName = new Map();
  for (const [k, b] of flat) byName.set(k, [...(byName.get(k) || []), b.toString('latin1')]);
  const got = (n) => wire.filter(([k]) => k === n).map(([, v]) => v.toString('latin1'));
  for (const [n, vals] of byName) {
    if (n.startsWith(':') || n === 'content-length' || STRIPPED_RES.has(n) || n === 'server') continue;
    const g = got(n);
    if (n === 'content-type') {
      if (!vals.every((v) => g.includes(v)))
        fail(`reply header content-type ${JSON.stringify(g)} lacks ${JSON.stringify(vals)}`);
    } else if (!same(g, vals))
      fail(
        `reply header ${JSON.stringify(n)} on the wire is ${JSON.stringify(g)}, ctx.respond gave ${JSON.stringify(vals)}`,
      );
  }
  if (!same(got('server'), ['envoy']))
    fail(`reply header server on the wire is ${JSON.stringify(got('server'))}, the proxy's is "envoy"`);
  const allowed = new Set([
    ...byName.keys(),
    'content-length',
    'content-type',
    'connection',
    'transfer-encoding',
    'date',
    'server',
  ]);
  for (const [k] of wire)
    if (!allowed.has(k)) fail(`reply has header ${JSON.stringify(k)} that ctx.respond did not give`);
}
