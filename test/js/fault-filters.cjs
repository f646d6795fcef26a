// Filters for the failure-containment suites (issue 6): the header/API fuzzer (test/fuzz/), the host
// start/stop cycles (test/host.cycles.test.mjs) and the soak run (benchmarks/soak.mjs).
// Plain CommonJS, as a user would ship after compiling TypeScript.
const { defineFilter } = require('nodevoy');
const { z } = require('zod');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------
// fuzzApi: runs a fuzzed program of SDK calls (test/fuzz/program.mjs describes the format).
//
// The program comes base64(JSON) in the request header `x-fuzz-ops` (sync or async, per its `mode`)
// or as the JSON request body (always async: the body is awaited first). `req` ops run in
// onRequestHeaders, `res` ops in onResponseHeaders. Every op's outcome is recorded:
//   {ok: 1, r: result}    or    {e: error.name, c: error.code, m: message (first 200 chars)}
// and the whole list goes back base64(JSON) in the response header `x-nodevoy-fuzz-results` (set last), or,
// when a `respond` op succeeded, as the local reply's body {results}. A `throw` op makes the handler
// fail on purpose.
// ------------------------------------------------------------------------------------------------

// Values JSON cannot carry are tagged: {"$": "undefined" | "NaN" | "Infinity" | "-Infinity" | "-0" |
// "bigint" | "symbol" | "bytes" (v: base64) | "object" | "fn"}.
function decode(v) {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(decode);
  if (typeof v.$ === 'string') {
    switch (v.$) {
      case 'undefined':
        return undefined;
      case 'NaN':
        return NaN;
      case 'Infinity':
        return Infinity;
      case '-Infinity':
        return -Infinity;
      case '-0':
        return -0;
      case 'bigint':
        return BigInt(v.v ?? 1);
      case 'symbol':
        return Symbol('fuzz');
      case 'bytes':
        return new Uint8Array(Buffer.from(String(v.v ?? ''), 'base64'));
      case 'object':
        return {
          toString() {
            return 'obj';
          },
        };
      case 'fn':
        return () => 'fn';
      default:
        break;
    }
  }
  const out = {};
  // defineProperty: a "__proto__" key stays an own property, as JSON.parse made it
  for (const [k, x] of Object.entries(v))
    Object.defineProperty(out, k, { value: decode(x), enumerable: true, writable: true, configurable: true });
  return out;
}

function outcomeOf(e) {
  return {
    e: e?.name ? String(e.name) : typeof e,
    c: e?.code ? String(e.code) : undefined,
    m: String(e?.message).slice(0, 200),
  };
}

class FuzzThrow extends Error {}

// Runs one op; returns 'sleep' for a sleep op (the caller awaits), 'stop' after a successful respond.
function runOp(op, subject, ctx, phase, results) {
  const name = decode(op.name);
  const value = decode(op.value);
  const headers = subject.headers;
  try {
    let r;
    switch (op.op) {
      case 'set':
        headers.set(name, value);
        break;
      case 'append':
        headers.append(name, value);
        break;
      case 'delete':
        headers.delete(name);
        break;
      case 'get':
        r = headers.get(name);
        break;
      case 'getAll':
        r = headers.getAll(name);
        break;
      case 'has':
        r = headers.has(name);
        break;
      case 'entries':
        r = headers.raw();
        break;
      case 'meta': {
        ctx.metadata.set(decode(op.ns), name, value);
        r = ctx.metadata.get(decode(op.ns), name);
        if (typeof r === 'number' && !Number.isFinite(r)) r = { $: String(r) };
        else if (Object.is(r, -0)) r = { $: '-0' };
        break;
      }
      case 'fs': {
        ctx.filterState.set(name, value);
        r = ctx.filterState.get(name);
        break;
      }
      case 'status': {
        if (phase !== 'res') return undefined;
        subject.status = value;
        r = subject.status;
        break;
      }
      case 'respond': {
        // the reply's body carries the outcomes so far (this op's success is the reply itself)
        const reply = ctx.respond(decode(op.status), JSON.stringify({ phase, results: ctx.fuzz }), decode(op.headers));
        ctx.fuzzReplied = true;
        results.push({ ok: 1, r: reply.status });
        return 'stop';
      }
      case 'throw':
        throw new FuzzThrow('fuzz program asked to fail');
      case 'sleep':
        return 'sleep';
      case 'body':
        return 'body';
      default:
        r = `unknown op ${op.op}`;
    }
    results.push({ ok: 1, r });
  } catch (e) {
    if (e instanceof FuzzThrow) throw e;
    results.push(outcomeOf(e));
  }
  return undefined;
}

function runSync(ops, subject, ctx, phase, results) {
  for (const op of ops) {
    const r = runOp(op, subject, ctx, phase, results);
    if (r === 'stop') return true;
    if (r === 'sleep' || r === 'body') results.push({ ok: 1, r: 'skipped' });
  }
  return false;
}

async function runAsync(ops, subject, ctx, phase, results) {
  for (const op of ops) {
    const r = runOp(op, subject, ctx, phase, results);
    if (r === 'stop') return true;
    if (r === 'sleep') {
      const ms = Math.max(0, Math.min(Number(op.ms) || 0, 50));
      if (ms === 0) await null;
      else await sleep(ms);
      results.push({ ok: 1, r: ms });
    } else if (r === 'body') {
      try {
        const text = await subject.body.text();
        results.push({ ok: 1, r: text.length });
      } catch (e) {
        results.push(outcomeOf(e));
      }
    }
  }
  return false;
}

function finishResults(res, results) {
  res.headers.set('x-nodevoy-fuzz-results', Buffer.from(JSON.stringify(results)).toString('base64'));
}

const snapshot = (headers) => headers.raw();

exports.fuzzApi = defineFilter({
  onRequestHeaders(req, ctx) {
    const b64 = req.headers.get('x-fuzz-ops');
    ctx.fuzz = { req: [], res: [], reqInit: snapshot(req.headers) };
    if (b64 !== null) {
      const prog = JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
      ctx.fuzzProg = prog;
      ctx.fuzzSync = prog.mode !== 'async';
      if (ctx.fuzzSync) {
        runSync(prog.req || [], req, ctx, 'req', ctx.fuzz.req);
        return undefined; // a successful respond op's reply is recorded already
      }
      return (async () => {
        await sleep(Number(prog.delay) || 0);
        await runAsync(prog.req || [], req, ctx, 'req', ctx.fuzz.req);
      })();
    }
    if (req.method !== 'POST') return undefined;
    return (async () => {
      const prog = JSON.parse(await req.body.text());
      ctx.fuzzProg = prog;
      await runAsync(prog.req || [], req, ctx, 'req', ctx.fuzz.req);
    })();
  },
  onResponseHeaders(res, ctx) {
    const prog = ctx.fuzzProg;
    if (!prog || ctx.fuzzReplied) return undefined;
    ctx.fuzz.resInit = snapshot(res.headers);
    if (ctx.fuzzSync) {
      if (!runSync(prog.res || [], res, ctx, 'res', ctx.fuzz.res)) finishResults(res, ctx.fuzz);
      return undefined;
    }
    return (async () => {
      if (!(await runAsync(prog.res || [], res, ctx, 'res', ctx.fuzz.res))) finishResults(res, ctx.fuzz);
    })();
  },
});

// ------------------------------------------------------------------------------------------------
// fuzzConfig: the config fuzzer's target. Strict zod schemas for both levels (the fuzzer uses the
// same schemas to predict accept/reject); a request is answered with the merged config as JSON.
// ------------------------------------------------------------------------------------------------

const filterSchema = z
  .object({
    tag: z.string().max(64).optional(),
    n: z.number().int().min(0).max(1000).optional(),
    list: z.array(z.string()).max(8).optional(),
    nested: z.record(z.unknown()).optional(),
  })
  .strict();
const routeSchema = z
  .object({ tag: z.string().max(64).optional(), n: z.number().int().min(0).max(1000).optional() })
  .strict();

exports.fuzzConfig = defineFilter({
  config: filterSchema,
  routeConfig: routeSchema,
  onRequestHeaders(req, ctx) {
    return ctx.respond(200, JSON.stringify(ctx.config), { 'content-type': 'application/json' });
  },
});

// Not filters: what the fuzzers share with this file (the value decoding, the config schemas).
exports.fuzzInternals = { decode, filterSchema, routeSchema };

// A filter without schemas: any config object is accepted and echoed.
exports.echoConfig = defineFilter({
  onRequestHeaders(req, ctx) {
    return ctx.respond(200, JSON.stringify(ctx.config ?? null), { 'content-type': 'application/json' });
  },
});

// ------------------------------------------------------------------------------------------------
// cycle: traffic for the start/stop cycles. By path:
//   /sync            returns at once            /timer?ms=N   awaits a timer (default 5 ms)
//   /slow?ms=N       awaits a long timer (in flight at shutdown)
//   /fetch           awaits fetch(config.sideUrl)   /body    awaits the whole request body
//   /interval        an interval ticking until the stream ends (ctx.signal)
// ------------------------------------------------------------------------------------------------

function msOf(path, def) {
  const m = /[?&]ms=(\d+)/.exec(path);
  return m ? Number(m[1]) : def;
}

exports.cycle = defineFilter({
  async onRequestHeaders(req, ctx) {
    const p = req.path;
    if (p.startsWith('/sync')) return;
    if (p.startsWith('/timer')) {
      await sleep(msOf(p, 5));
    } else if (p.startsWith('/slow')) {
      await sleep(msOf(p, 2000));
    } else if (p.startsWith('/fetch')) {
      const r = await fetch(`${ctx.config.sideUrl}/side`, { signal: ctx.signal });
      req.headers.set('x-side-status', String(r.status));
      await r.arrayBuffer();
    } else if (p.startsWith('/body')) {
      const text = await req.body.text();
      req.headers.set('x-body-length', String(text.length));
    } else if (p.startsWith('/interval')) {
      await new Promise((resolve) => {
        let n = 0;
        const iv = setInterval(() => {
          if (++n >= msOf(p, 50) / 5) {
            clearInterval(iv);
            resolve();
          }
        }, 5);
        ctx.signal.addEventListener('abort', () => {
          clearInterval(iv);
          resolve();
        });
      });
    }
    req.headers.set('x-cycle', 'done');
  },
  async onResponseHeaders(res) {
    await null;
    res.headers.set('x-cycle-resp', '1');
  },
});

// ------------------------------------------------------------------------------------------------
// faults / faultsOpen: the soak mix. By path (first segment; faultsOpen: the segment after /open):
//   /pass          continue                   /throw         sync throw (-> failure policy)
//   /reject        async reject               /timer         awaits 1-3 ms
//   /respond       ctx.respond(403)           /badheader     an invalid header value, caught -> 200
//   /badheader-uncaught  the InvalidHeaderError escapes (-> failure policy)
//   /body          awaits the request body    /park          awaits 200 ms (the soak resets these)
//   /spin          while(true){} (only with sync_budget_ms)  /hang   never settles (only with async_budget_ms)
// ------------------------------------------------------------------------------------------------

function faultHandler(prefix) {
  return function onRequestHeaders(req, ctx) {
    const p = req.path;
    if (!p.startsWith(prefix)) return undefined;
    const seg = p.slice(prefix.length + 1).split(/[/?]/, 1)[0];
    switch (seg) {
      case 'pass':
        return undefined;
      case 'throw':
        throw new Error('soak: sync throw');
      case 'reject':
        return (async () => {
          await null;
          throw new Error('soak: async reject');
        })();
      case 'timer':
        return sleep(1 + (ctx.streamId % 3)).then(() => {
          req.headers.set('x-timer', '1');
        });
      case 'respond':
        return ctx.respond(403, 'soak: denied', { 'x-soak': 'respond' });
      case 'badheader':
        try {
          req.headers.set('x-bad', 'a\r\nx-injected: 1');
        } catch (e) {
          req.headers.set('x-bad-error', e.name);
        }
        return undefined;
      case 'badheader-uncaught':
        req.headers.set('x-bad', 'a\nb');
        return undefined;
      case 'body':
        return req.body.text().then((t) => {
          req.headers.set('x-body-length', String(t.length));
        });
      case 'park':
        return sleep(200);
      case 'spin':
        for (;;) {
          /* burn: sync_budget_ms must end this */
        }
      case 'hang':
        return new Promise(() => {});
      default:
        return undefined;
    }
  };
}

// fail_closed in the soak: paths /<kind>
exports.faults = defineFilter({ onRequestHeaders: faultHandler('') });
// fail_open in the soak: paths /open/<kind> (the `faults` instance lets them through untouched)
exports.faultsOpen = defineFilter({ onRequestHeaders: faultHandler('/open') });
