// test/lib/harness.mjs -- shared helpers for the end-to-end tap suites that drive the ABI host
// (build/nodevoy-host, a test tool that runs Envoy dynamic modules; it is not Envoy) over real HTTP/1.1.
//
// One import for the suites; each part lives in its own file and documents its API there:
//   target.mjs         repoRoot, buildDir, proxy, hostBinary, onEnvoy, hostOnly(t, why)
//   util.mjs           sleep, waitFor, freePort, canConnect
//   upstream.mjs       startUpstream(handler?)
//   config.mjs         hostConfig(opts), toYaml(value)
//   proxy-process.mjs  startHost(yaml, opts), runHostExpectFailure(yaml, opts), adminGet, proxyNamed
//   client.mjs         request, rawRequest, resetAfter, sendBody, keepAliveAgent
//
// test/lib/setup.mjs builds on this: withHost(t, opts) starts an upstream + host with teardown, and
// fx(filterName, config) makes a fixture filter entry.
//
// Cleanup: tests register t.teardown(() => host.stop()) / t.teardown(() => upstream.close()).
export * from './target.mjs';
export * from './util.mjs';
export * from './upstream.mjs';
export * from './config.mjs';
export * from './proxy-process.mjs';
export * from './client.mjs';
