// The shared scenarios (test/scenarios/scenarios.mjs) through nodevoy/testing, in plain Node: once with
// real timers and once on a TestClock driven by clock.runAll(). test/runtime.scenarios.test.mjs runs the
// same scenarios through libnodevoy.so in the ABI host; the two must agree.
import t from 'tap';
import { createClock, runFilter } from 'nodevoy/testing';
import { checkScenario, filtersPath, sameLabels, scenarios } from './scenarios/scenarios.mjs';

function observe(r) {
  return {
    upstream: r.upstreamRequest,
    response: r.response.status ? r.response : undefined,
    reset: r.reset,
    metric: async (name, labels) => {
      const m = r.metrics.all.find((x) => x.name === name && sameLabels(x.labels, labels));
      return m && (m.type === 'histogram' ? { count: m.value } : { value: m.value });
    },
    logs: async () => r.logs,
  };
}

function optionsOf(s) {
  const p = s.policy ?? {};
  return {
    failureMode: p.failure_mode,
    failureStatus: p.failure_status,
    syncBudgetMs: p.sync_budget_ms,
    asyncBudgetMs: p.async_budget_ms,
    jsTimeHistogram: p.js_time_histogram,
    config: s.config,
    routeConfig: s.routeConfig,
    bufferLimit: s.bufferLimit,
    request: s.request,
    upstream: s.upstream,
    clusters: s.clusters,
  };
}

t.test('scenarios with real timers', async (t) => {
  for (const s of scenarios) {
    await t.test(s.name, async (t) => {
      const r = await runFilter({ module: filtersPath, filterName: s.filter }, optionsOf(s));
      await checkScenario(t, s, observe(r));
    });
  }
});

t.test('scenarios on a test clock', async (t) => {
  for (const s of scenarios) {
    await t.test(s.name, async (t) => {
      const clock = createClock();
      const started = Date.now();
      const run = runFilter({ module: filtersPath, filterName: s.filter }, { ...optionsOf(s), clock });
      await clock.runAll();
      const r = await run;
      t.ok(Date.now() - started < 2000, 'no real waiting');
      await checkScenario(t, s, observe(r));
    });
  }
});
