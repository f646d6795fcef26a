// ABI host: stricter than Envoy on purpose. Wrong-thread callbacks abort with a message, Envoy-owned
// bytes kept past their hook are scribbled, and the binary exports only the ABI callbacks.
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { freePort, hostBinary, hostConfig, request, startHost, startUpstream, waitFor } from './lib/harness.mjs';
import { fx } from './lib/setup.mjs';

const asan = /asan/.test(process.env.NODEVOY_BUILD || '');

async function bareHost(t, filters, hostOpts = {}) {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const port = await freePort();
  const host = await startHost(hostConfig({ port, filters, clusters: { upstream: up.port } }), hostOpts);
  t.teardown(() => host.stop());
  return { up, host, port };
}

t.test('a stream callback from a foreign thread aborts the host, naming the callback', async (t) => {
  const { host, port, up } = await bareHost(t, [fx('wrong_thread', {})]);
  await t.rejects(request(port, { path: '/wt', agent: false, timeoutMs: 20000 }), 'the request dies with the host');
  const { code, signal } = await host.exited;
  t.ok(signal === 'SIGABRT' || (code !== 0 && code !== null), `host aborted (code ${code}, signal ${signal})`);
  t.match(
    host.stderr(),
    /FATAL: envoy_dynamic_module_callback_http_get_headers_size called from a thread that is not an Envoy worker thread/,
  );
  // The abort is reported with a backtrace (under ASan, its own report does that instead).
  if (!asan)
    t.match(
      host.stderr(),
      /nodevoy-host: caught SIGABRT \(signal 6, [^\n]*backtrace:\n.*nodevoy-host/,
      'with a backtrace',
    );
  t.equal(up.requests.length, 0, 'nothing was proxied');
});

t.test('keep_pointer: a view kept past its hook is garbage under lifetime checks', async (t) => {
  const variants = [
    ['--check-lifetimes', { check: true }],
    ['NODEVOY_HOST_CHECK_LIFETIMES=1', { check: false, env: { NODEVOY_HOST_CHECK_LIFETIMES: '1' } }],
  ];
  for (const [name, opts] of variants) {
    t.test(name, async (t) => {
      const { host, port } = await bareHost(t, [fx('keep_pointer', {})], opts);
      // The ready line can trail the open port by a moment on a loaded machine.
      await waitFor(() => /lifetime checks on/.test(host.stderr()), { timeoutMs: 5000 }).catch(() => {});
      t.match(host.stderr(), /lifetime checks on/, 'the host says checks are on');
      const path = '/kept/original/path';
      const r = await request(port, { path, agent: false, timeoutMs: 20000 }).then(
        (x) => x,
        (e) => ({ error: e }),
      );
      if (r.error) {
        // The freed, scribbled bytes made the module send a header the host refuses (NUL), or ASan
        // stopped the read of the freed block: either way the host died loudly.
        const { code, signal } = await host.exited;
        t.pass(`request failed (${r.error.message}); the host died (code ${code}, signal ${signal})`);
        t.match(host.stderr(), asan ? /AddressSanitizer|FATAL/ : /FATAL/);
      } else {
        t.equal(r.status, 200);
        t.type(r.headers['x-kept'], 'string', 'the filter added x-kept');
        t.not(r.headers['x-kept'], path, 'the original path is NOT what the module read back');
        t.notMatch(r.headers['x-kept'], /kept|original/);
      }
    });
  }
});

t.test('exported symbols: only the ABI callbacks, no runtime or library symbols', async (t) => {
  const out = execFileSync('readelf', ['-W', '--dyn-syms', hostBinary], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const rows = out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 8 && /^\d+:$/.test(f[0]));
  // Num: Value Size Type Bind Vis Ndx Name
  const defined = rows.filter((f) => f[6] !== 'UND').map((f) => f[7].replace(/@.*$/, ''));
  const undefinedSyms = rows.filter((f) => f[6] === 'UND').map((f) => f[7].replace(/@.*$/, ''));
  const callbacks = defined.filter((n) => n.startsWith('envoy_dynamic_module_callback_'));
  t.ok(callbacks.length > 50, `exports the ABI callbacks (${callbacks.length})`);
  for (const must of [
    'envoy_dynamic_module_callback_log',
    'envoy_dynamic_module_callback_http_get_header',
    'envoy_dynamic_module_callback_http_send_response',
    'envoy_dynamic_module_callback_http_filter_scheduler_commit',
    'envoy_dynamic_module_callback_http_filter_http_callout',
  ]) {
    t.ok(callbacks.includes(must), `exports ${must}`);
  }
  // The ASan build links libstdc++ dynamically (no -static-libstdc++), so the linker exports the
  // host's weak std:: instantiations and copy-relocated std:: vtables; that build is exempt from the
  // std:: checks (and sanitizer runtime data symbols are expected there).
  const exempt = (n) => asan && /^(_ZNSt|_ZNKSt|_ZSt|_ZT[VIST]|__asan|__ubsan|__lsan|__sanitizer)/.test(n);
  const bad = defined.filter(
    (n) =>
      !exempt(n) &&
      (/^(SSL_|EVP_|_ZN2v8|_ZNSt|_ZNKSt|_ZSt|event_|evhttp_|http_parser|_ZN4YAML|napi_|uv_)/.test(n) ||
        n.includes('std::')),
  );
  t.same(bad, [], `no defined OpenSSL, V8, ${asan ? '' : 'libstdc++, '}libevent, yaml-cpp, N-API or libuv symbols`);
  const otherFuncs = rows.filter(
    (f) => f[6] !== 'UND' && f[3] === 'FUNC' && !f[7].startsWith('envoy_dynamic_module_callback_') && !exempt(f[7]),
  );
  t.same(
    otherFuncs.map((f) => f[7]),
    [],
    'no defined function other than the ABI callbacks',
  );
  const other = defined.filter((n) => !n.startsWith('envoy_dynamic_module_callback_'));
  t.comment(`other defined dynamic symbols (copy-relocated libc data): ${other.join(' ') || '(none)'}`);
  if (asan) {
    t.comment('ASan build: libstdc++ is linked dynamically, UND _ZNSt symbols are expected');
  } else {
    t.same(
      undefinedSyms.filter((n) => /^_ZNS|^_ZNKS|^_ZSt/.test(n)),
      [],
      'release build: libstdc++ linked statically, no UND std:: symbols',
    );
  }
});

t.test('well-behaved modules on two workers never trip the strict checks under load', async (t) => {
  const { port, host } = await bareHost(
    t,
    [fx('attributes', {}), fx('metrics', {}), fx('async_resume', { delay_ms: 5 })],
    {
      concurrency: 2,
    },
  );
  const rs = await Promise.all(Array.from({ length: 100 }, (_, i) => request(port, { path: `/l${i}`, agent: false })));
  t.ok(rs.every((r) => r.status === 200));
  t.notMatch(host.stderr(), /FATAL/);
  t.equal(await host.stop(), 0);
});
