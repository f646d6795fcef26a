// Bundle B of the config-reload tests (test/envoy.reload.test.mjs): tags responses `x-bundle: B`.
// `x-delay-ms: N` parks the request headers N ms; `x-probe: 1` reports, from the environment serving
// the request, what is left there of bundle A (see reload-probe.cjs).
const { defineFilter } = require('nodevoy');
const probe = require('./reload-probe.cjs');

exports.bundle = defineFilter({
  async onRequestHeaders(req, ctx) {
    probe.wantsProbe(req, ctx);
    const ms = Number(req.headers.get('x-delay-ms') || 0);
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  },
  onResponseHeaders(res, ctx) {
    res.headers.set('x-bundle', 'B');
    probe.report(res, ctx);
  },
});
