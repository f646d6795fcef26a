// Filters that fail in every way a handler can, for test/runtime.containment.test.mjs.
const { defineFilter } = require('nodevoy');

const aborted = { count: 0, reasons: [] };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

exports.failing = defineFilter({
  async onRequestHeaders(req, ctx) {
    const mode = req.headers.get('x-mode') ?? 'ok';
    ctx.signal.addEventListener('abort', () => {
      aborted.count++;
      aborted.reasons.push(String(ctx.signal.reason?.name));
    });
    switch (mode) {
      case 'throw':
        throw new Error('boom');
      case 'reject':
        await sleep(5);
        throw new Error('late boom');
      case 'spin':
        for (;;) {} // never returns: the watchdog must stop it
      case 'spin-after-await':
        await sleep(5);
        for (;;) {}
      case 'hang':
        await new Promise(() => {});
        break; // never settles: the async budget must end it
      case 'timer-spin':
        setTimeout(() => {
          for (;;) {}
        }, 1);
        break; // a runaway timer callback
      // biome-ignore lint/suspicious/noFallthroughSwitchClause: process.exit does not return
      case 'exit':
        process.exit(3);
      case 'report':
        req.headers.set('x-aborted', `${aborted.count}:${aborted.reasons.join(',')}`);
        break;
      default:
        break;
    }
  },
});

// Bad input at the boundary: each attempt must throw a typed error at the call site and change nothing.
exports.boundary = defineFilter({
  onRequestHeaders(req, ctx) {
    const results = [];
    const attempt = (name, fn) => {
      try {
        fn();
        results.push(`${name}=ok`);
      } catch (e) {
        results.push(`${name}=${e.name}`);
      }
    };
    attempt('crlf', () => req.headers.set('x-a', 'v\r\nx-injected: 1'));
    attempt('nul', () => req.headers.set('x-a', 'v\0'));
    attempt('badname', () => req.headers.set('bad name', 'v'));
    attempt('nonstring', () => req.headers.set('x-a', 42));
    attempt('status', () => ctx.respond(99));
    attempt('status-float', () => ctx.respond(200.5));
    attempt('reply-header', () => ctx.respond(403, 'x', { 'x-b': 'a\nb' }));
    attempt('metadata', () => ctx.metadata.set('ns', 'k', { nested: true }));
    attempt('attribute', () => ctx.attribute('no.such.attribute'));
    attempt('fetch-cluster', () => {
      ctx.fetch('', '/');
    });
    attempt('pseudo-path', () => req.headers.set(':path', '/a b'));
    attempt('pseudo-method', () => req.headers.set(':method', 'P O'));
    req.headers.set('x-results', results.join(' '));
    ctx.saved = req;
  },
  onResponseHeaders(res, ctx) {
    res.headers.set('x-late', 'set');
    ctx.keep = ctx;
  },
});

// Keeps a chunk view and hands it back later: a detached buffer must be refused, not read.
let kept;
exports.detached = defineFilter({
  onRequestData(chunk, ctx) {
    if (!kept) {
      kept = chunk.bytes;
      return undefined;
    }
    const stale = kept;
    kept = undefined;
    try {
      return stale; // detached: the runtime refuses it
    } finally {
      ctx.log.info('returned a stale view');
    }
  },
});

// Calls on a stream after it completed throw StreamClosedError.
let saved;
exports.afterClose = defineFilter({
  onRequestHeaders(req, ctx) {
    if (req.headers.get('x-check') && saved) {
      const out = [];
      const calls = [
        () => saved.req.headers.get('x'),
        () => saved.ctx.respond(200),
        () => saved.ctx.metadata.get('a', 'b'),
        () => saved.req.body.replace('x'),
      ];
      for (const fn of calls) {
        try {
          fn();
          out.push('ok');
        } catch (e) {
          out.push(`${e.name}(${e.message.split(':')[0]})`);
        }
      }
      req.headers.set('x-after-close', out.join(','));
      return;
    }
    saved = { req, ctx };
  },
});

// Allocates until the heap limit: the environment must be replaced, the worker must keep serving.
const hoard = [];
exports.hog = defineFilter({
  onRequestHeaders(req) {
    if (req.headers.get('x-mode') !== 'hog') return;
    for (;;) hoard.push(new Array(100000).fill(hoard.length));
  },
});

// Records how each stream ended for the stream-death cases: which phase it was in and whether its signal aborted.
const deaths = [];
exports.mortal = defineFilter({
  async onRequestHeaders(req, ctx) {
    const mode = req.headers.get('x-mode') ?? '';
    if (mode === 'report') {
      req.headers.set('x-deaths', deaths.join(' '));
      return;
    }
    ctx.signal.addEventListener('abort', () => deaths.push(`${mode}:aborted`));
    if (mode === 'fetch') {
      try {
        await ctx.fetch('slow', '/stall', { timeoutMs: 60000 });
      } catch (e) {
        deaths.push(`fetch:${e.name}`);
      }
    }
  },
  onRequestData(chunk, ctx) {
    return chunk.bytes; // touches every chunk as it streams
  },
  onResponseHeaders(res, ctx) {
    res.headers.set('x-mortal', 'seen');
  },
});

// Every phase handled, so each hook runs for the fault-injection test (NODEVOY_TEST_THROW_IN).
exports.allHooks = defineFilter({
  async onRequestHeaders(req, ctx) {
    if (req.headers.get('x-park')) await new Promise((r) => setTimeout(r, 10));
    if (req.headers.get('x-fetch')) await ctx.fetch('upstream', '/callout');
  },
  onRequestData() {},
  onRequestTrailers() {},
  onResponseHeaders() {},
  onResponseData() {},
  onResponseTrailers() {},
});

// A WebAssembly module large enough that compiling it takes a while: `functions` functions returning an
// i32, each a long run of add-and-drop. Built with a minimal encoder (LEB128 sizes).
function bigWasm(functions, groups) {
  const leb = (n) => {
    const out = [];
    do {
      let b = n & 0x7f;
      n >>>= 7;
      if (n) b |= 0x80;
      out.push(b);
    } while (n);
    return out;
  };
  const group = [0x41, 0x01, 0x41, 0x02, 0x6a, 0x1a]; // i32.const 1, i32.const 2, i32.add, drop
  const body = [0x00]; // no locals
  for (let i = 0; i < groups; i++) body.push(...group);
  body.push(0x41, 0x00, 0x0b); // i32.const 0, end
  const sizedBody = [...leb(body.length), ...body];
  const section = (id, bytes) => [id, ...leb(bytes.length), ...bytes];
  const head = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [0x01, 0x60, 0x00, 0x01, 0x7f]), // one type: () -> i32
    ...section(3, [...leb(functions), ...new Array(functions).fill(0)]), // every function has it
  ];
  const codeLength = leb(functions).length + functions * sizedBody.length;
  const out = new Uint8Array(head.length + 1 + leb(codeLength).length + codeLength);
  let at = 0;
  for (const b of [...head, 0x0a, ...leb(codeLength), ...leb(functions)]) out[at++] = b;
  for (let f = 0; f < functions; f++) {
    out.set(sizedBody, at);
    at += sizedBody.length;
  }
  return out;
}
// Built on first use: every filter in this file loads with it, in every environment of every suite.
let wasm;

// Starts compiling a 6 MB module (not awaited) and lets the request through: an environment torn down
// right after must not be reached by the compile's background work.
exports.wasmCompile = defineFilter({
  onRequestHeaders(req) {
    wasm ??= bigWasm(4000, 250);
    WebAssembly.compile(wasm).catch(() => {});
    req.headers.set('x-wasm-bytes', String(wasm.length));
  },
});
