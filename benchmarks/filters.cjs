// JS filters measured by benchmarks/run.mjs (one export per configuration; filter_name picks it).
// Each does what its native twin in test/fixture/ does, so the two can be compared.
const { defineFilter } = require('nodevoy');
const { upper } = require('../test/js/ascii.cjs');

// No handlers at all: the module can skip JS for every hook.
exports.passthrough = defineFilter({});

// One sync handler that does nothing: the price of dispatching into JS.
exports.noop = defineFilter({
  onRequestHeaders() {},
});

// Twin of the fixture's `headers` behaviour.
exports.rewrite = defineFilter({
  onRequestHeaders(req) {
    req.headers.set('x-added', 'yes');
    req.headers.delete('x-remove');
  },
  onResponseHeaders(res) {
    res.headers.set('x-resp', '1');
  },
});

// Async handlers: a promise that is already resolved, and a real trip through the event loop.
exports.asyncResolved = defineFilter({
  async onRequestHeaders(req) {
    await Promise.resolve();
    req.headers.set('x-async', '1');
  },
});
exports.asyncImmediate = defineFilter({
  async onRequestHeaders(req) {
    await new Promise((resolve) => setImmediate(resolve));
    req.headers.set('x-async', '1');
  },
});

// Per-chunk body counters, reported on the host's log every 1024 chunks; the runner turns them into
// chunks per request (every benchmark request carries exactly 64 KiB, so requests = bytes / 65536).
const bodyStats = { chunks: 0, bytes: 0 };
function countChunk(chunk, ctx) {
  bodyStats.bytes += chunk.bytes.length;
  if ((++bodyStats.chunks & 1023) === 0 && ctx) {
    ctx.log.warn(`bench-body-stats chunks=${bodyStats.chunks} bytes=${bodyStats.bytes}`);
  }
}

// Twin of the fixture's `uppercase_body` (request only): ASCII upper case, chunk by chunk.
exports.upperBody = defineFilter({
  onRequestData(chunk, ctx) {
    countChunk(chunk, ctx);
    return upper(chunk.bytes);
  },
});

// Looks at every chunk and passes it on unchanged: the price of a body view per chunk.
exports.dataNoop = defineFilter({
  onRequestData(chunk, ctx) {
    countChunk(chunk, ctx);
  },
});

// Twin of the fixture's `callout`: GET config.path on config.cluster, then annotate the request.
exports.fetchCheck = defineFilter({
  async onRequestHeaders(req, ctx) {
    const r = await ctx.fetch(ctx.config.cluster, ctx.config.path, { timeoutMs: 1000 });
    const text = await r.text();
    req.headers.set('x-callout-status', String(r.status));
    req.headers.set('x-callout-body', text.slice(0, 100));
  },
});

// Reads its (per-route) config: used by the route-table memory measurement.
exports.routeAware = defineFilter({
  onRequestHeaders(req, ctx) {
    req.headers.set('x-route-value', String(ctx.config?.value ?? 'none'));
  },
});

// The price list: GET /__bench/micro?op=NAME&n=N times N iterations of one operation in a tight
// loop (after a warm-up) and answers {op, n, ns: ns per operation} as JSON; op=list names the
// operations. One operation per request keeps every handler call far below the module's synchronous
// time budget. Any other path passes through.
// biome-ignore lint/correctness/noUnusedVariables: written so V8 cannot drop the measured reads
let sink;
const ops = {
  'empty loop': (h, ctx, k) => {
    let x = 0;
    for (let i = 0; i < k; i++) x += i;
    sink = x;
  },
  'headers.get (present)': (h, ctx, k) => {
    for (let i = 0; i < k; i++) sink = h.get('x-bench-a');
  },
  'headers.get (absent)': (h, ctx, k) => {
    for (let i = 0; i < k; i++) sink = h.get('x-bench-none');
  },
  'headers.has': (h, ctx, k) => {
    for (let i = 0; i < k; i++) sink = h.has('x-bench-b');
  },
  'headers.set': (h, ctx, k) => {
    for (let i = 0; i < k; i++) h.set('x-bench-set', 'value');
  },
  'headers.append + delete': (h, ctx, k) => {
    for (let i = 0; i < k; i++) {
      h.append('x-bench-app', 'v');
      h.delete('x-bench-app');
    }
  },
  'headers.entries() full iteration': (h, ctx, k) => {
    let c = 0;
    for (let i = 0; i < k; i++) for (const _ of h.entries()) c++;
    sink = c;
  },
  'headers.raw() full copy': (h, ctx, k) => {
    let c = 0;
    for (let i = 0; i < k; i++) c += h.raw().length;
    sink = c;
  },
  'ctx.log.debug at a disabled level': (h, ctx, k) => {
    for (let i = 0; i < k; i++) ctx.log.debug('not logged');
  },
};
const opScale = { 'headers.entries() full iteration': 1 / 20, 'headers.raw() full copy': 1 / 20 }; // ~20x the cost of one get

exports.micro = defineFilter({
  onRequestHeaders(req, ctx) {
    if (!req.path.startsWith('/__bench/micro')) return undefined;
    const q = new URL(req.path, 'http://x').searchParams;
    const json = (v) => ctx.respond(200, JSON.stringify(v), { 'content-type': 'application/json' });
    const h = req.headers;
    if (q.get('op') === 'list') {
      let headerCount = 0;
      for (const _ of h.entries()) headerCount++;
      return json({
        ops: Object.keys(ops),
        headerCount,
        node: process.version,
        v8: process.versions.v8,
        uv: process.versions.uv,
      });
    }
    const op = q.get('op');
    const fn = ops[op];
    if (!fn) return ctx.respond(404, `unknown op ${op}`);
    const k = Math.max(100, Math.ceil((Number(q.get('n')) || 10000) * (opScale[op] ?? 1)));
    fn(h, ctx, Math.min(k, 5000)); // warm the JIT
    const t0 = process.hrtime.bigint();
    fn(h, ctx, k);
    return json({ op, n: k, ns: Number(process.hrtime.bigint() - t0) / k });
  },
});
