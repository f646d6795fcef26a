// test/lib/setup.mjs -- one-call setup for host e2e tests built on harness.mjs.
//
//   const { up, host, port, adminPort, yaml } = await withHost(t, {
//     filters,             // as hostConfig's filters (default: none)
//     routes,              // as hostConfig's routes (default: prefix "/" -> cluster "upstream")
//     clusters,            // extra clusters {name: port} besides "upstream"
//     bufferLimit,         // listener per_connection_buffer_limit_bytes
//     upstreamHandler,     // passed to startUpstream
//     hostOpts,            // passed to startHost (concurrency, args, env, logLevel, check...)
//   });
//
// Starts an upstream (cluster "upstream"), writes the bootstrap with an admin port, starts the host
// and registers teardowns that stop both. A host exit code other than 0 at teardown fails the test
// (unless `expectCleanExit: false`).

import { freePort, hostConfig, startHost, startUpstream } from './harness.mjs';

export async function withHost(t, opts = {}) {
  const up = await startUpstream(opts.upstreamHandler);
  let host;
  // One teardown: the upstream closes even when the host's exit fails the test (a throw in a
  // teardown would skip the ones after it).
  t.teardown(async () => {
    try {
      if (host && opts.expectCleanExit !== false) await host.stopClean();
      else await host?.stop();
    } finally {
      await up.close();
    }
  });
  const port = await freePort();
  const adminPort = await freePort();
  const yaml = hostConfig({
    port,
    adminPort,
    filters: opts.filters || [],
    clusters: { upstream: up.port, ...(opts.clusters || {}) },
    routes: opts.routes,
    bufferLimit: opts.bufferLimit,
  });
  host = await startHost(yaml, opts.hostOpts || {});
  return { up, host, port, adminPort, yaml };
}

// A fixture filter entry for hostConfig.
export const fx = (filterName, config, extra = {}) => ({ module: 'fixture', filterName, config, ...extra });
