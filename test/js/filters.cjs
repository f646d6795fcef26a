// Filters the runtime tests run inside libnodevoy.so. Written as a user would after compiling TS to CJS.
const http = require('node:http');
const { defineFilter } = require('nodevoy');

exports.rewrite = defineFilter({
  onRequestHeaders(req, ctx) {
    req.headers.set('x-js', `sync:${req.method}:${req.path}`);
    req.headers.set('x-config', String(ctx.config.tag));
    req.headers.delete('x-remove-me');
  },
  onResponseHeaders(res) {
    res.headers.set('x-js-resp', String(res.status));
  },
});

exports.awaitResolved = defineFilter({
  async onRequestHeaders(req) {
    await null;
    await Promise.resolve();
    req.headers.set('x-awaited', 'yes');
  },
});

exports.timer = defineFilter({
  async onRequestHeaders(req, ctx) {
    const ms = Number(ctx.config.ms ?? 30);
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, ms));
    req.headers.set('x-slept', String(Date.now() - t0 >= ms - 1));
  },
});

exports.fetcher = defineFilter({
  async onRequestHeaders(req, ctx) {
    const r = await fetch(`${ctx.config.url}/side?from=fetch`);
    const j = await r.json();
    req.headers.set('x-fetched', j.path);
  },
});

exports.httpClient = defineFilter({
  async onRequestHeaders(req, ctx) {
    const body = await new Promise((resolve, reject) => {
      http
        .get(`${ctx.config.url}/side?from=http`, (res) => {
          let b = '';
          res.on('data', (d) => (b += d));
          res.on('end', () => resolve(b));
        })
        .on('error', reject);
    });
    req.headers.set('x-http', JSON.parse(body).path);
  },
});

exports.deny = defineFilter({
  onRequestHeaders(req, ctx) {
    if (req.headers.get('authorization') !== 'Bearer ok')
      return ctx.respond(401, 'missing token', { 'www-authenticate': 'Bearer' });
  },
});

exports.denyLater = defineFilter({
  async onRequestHeaders(req, ctx) {
    await new Promise((r) => setTimeout(r, 5));
    return ctx.respond(429, 'slow down');
  },
});

exports.boom = defineFilter({
  onRequestHeaders(req) {
    if (req.path.startsWith('/boom')) throw new Error('kaboom from a sync handler');
  },
});

exports.reject = defineFilter({
  async onRequestHeaders(req) {
    await new Promise((r) => setTimeout(r, 5));
    if (req.path.startsWith('/boom')) throw new Error('kaboom from an async handler');
  },
});

exports.responseSide = defineFilter({
  async onResponseHeaders(res, ctx) {
    await new Promise((r) => setTimeout(r, 5));
    if (res.status === 200) res.headers.set('x-checked', 'later');
    else return ctx.respond(502, 'upstream said no');
  },
});

exports.badHeader = defineFilter({
  onRequestHeaders(req) {
    try {
      req.headers.set('x-evil', 'a\r\nx-injected: 1');
    } catch (e) {
      req.headers.set('x-error', `${e.name}:${e.code}`);
    }
  },
});

// Parks for a long time; reports the abort and a late call's typed error in the log.
exports.parked = defineFilter({
  async onRequestHeaders(req, ctx) {
    ctx.signal.addEventListener('abort', () => {
      try {
        req.headers.get('x-anything');
        ctx.log.error('late call did not throw');
      } catch (e) {
        ctx.log.warn(`parked stream aborted; late call threw ${e.code}`);
      }
    });
    await new Promise((r) => setTimeout(r, Number(ctx.config.ms ?? 3000)));
  },
});

exports.exits = defineFilter({
  onRequestHeaders() {
    process.exit(3);
  },
});

exports.notAFilter = { onRequestHeaders() {} };
