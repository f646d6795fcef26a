// Shared by the config-reload bundles (reload-a.cjs, reload-b.cjs; test/envoy.reload.test.mjs): what an
// environment still holds of bundle A, reported on a response whose request asked with `x-probe: 1`.
//   x-env-id      an id of this environment (random, made when this file first loads in it)
//   x-a-cached    how many reload-a bundles are in this environment's require cache
//   x-a-alive     how many of the ballasts A's instances made in this environment survive a full GC
//   x-a-made      how many A made in this environment in all
//   x-env-rss-mb  the RSS of the whole Envoy process, in MB
// A registers each ballast with track(); nothing here keeps one alive.
const envId = Math.random().toString(36).slice(2, 10);
const made = (globalThis.__reloadBallasts ??= []); // WeakRefs, one per A instance

let gc;
function fullGc() {
  if (!gc) {
    require('node:v8').setFlagsFromString('--expose-gc');
    gc = require('node:vm').runInNewContext('gc');
  }
  gc();
}

exports.track = (ballast) => {
  made.push(new WeakRef(ballast));
};

const probing = new WeakSet(); // the contexts of streams that asked for a probe
exports.wantsProbe = (req, ctx) => {
  if (req.headers.get('x-probe')) probing.add(ctx);
};

exports.report = (res, ctx) => {
  if (!probing.has(ctx)) return;
  fullGc();
  res.headers.set('x-env-id', envId);
  res.headers.set('x-a-cached', String(Object.keys(require.cache).filter((k) => /reload-a\.cjs$/.test(k)).length));
  res.headers.set('x-a-alive', String(made.filter((r) => r.deref() !== undefined).length));
  res.headers.set('x-a-made', String(made.length));
  res.headers.set('x-env-rss-mb', String(Math.round(process.memoryUsage.rss() / 1048576)));
};
