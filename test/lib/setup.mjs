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

import { freePort, hostConfig, proxy, startHost, startUpstream } from './harness.mjs';

export async function withHost(t, opts = {}) {
  const up = await startUpstream(opts.upstreamHandler);
  let host;
  // One teardown: stop the host, close the upstream, and only then report an unclean exit (a throw
  // in a teardown would skip the ones after it).
  t.teardown(async () => {
    const code = host ? await host.stop() : 0;
    await up.close();
    if (host && opts.expectCleanExit !== false && code !== 0) {
      // An unclean shutdown (a crash, or an ASan report at exit) fails the test ("error thrown in teardown").
      throw new Error(`${proxy.label} exited with ${code} at teardown:\n${host.stderr().slice(-8000)}`);
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
