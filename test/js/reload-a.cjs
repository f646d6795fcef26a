// Bundle A of the config-reload tests (test/envoy.reload.test.mjs): tags responses `x-bundle: A`.
// `x-delay-ms: N` parks the request headers in an async handler for N ms (a long-running stream).
// `ballastMb` in the filter config: each time an environment makes an instance of this filter for a
// filter config (the config schema runs then), the instance's config object holds that many MB of
// committed memory, so it lives exactly as long as the runtime keeps that instance.
// `x-probe: 1` reports what this environment holds of A (see reload-probe.cjs).
const { defineFilter } = require('nodevoy');
const probe = require('./reload-probe.cjs');

exports.bundle = defineFilter({
  config(raw) {
    const cfg = raw && typeof raw === 'object' ? { ...raw } : {};
    const mb = Number(cfg.ballastMb || 0);
    if (mb > 0) {
      const ballast = Buffer.alloc(mb << 20, 0x61); // filled: the pages are committed (RSS)
      Object.defineProperty(cfg, 'ballast', { value: ballast, enumerable: false });
      probe.track(ballast);
    }
    return cfg;
  },
  async onRequestHeaders(req, ctx) {
    probe.wantsProbe(req, ctx);
    const ms = Number(req.headers.get('x-delay-ms') || 0);
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  },
  onResponseHeaders(res, ctx) {
    res.headers.set('x-bundle', 'A');
    probe.report(res, ctx);
  },
});
