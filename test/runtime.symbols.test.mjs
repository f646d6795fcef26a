// libnodevoy.so exports every hook Envoy requires of an HTTP filter module, and on_program_init.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { buildDir, proxy } from './lib/harness.mjs';

const mandatory = [
  'config_new',
  'config_destroy',
  'new',
  'stream_complete',
  'destroy',
  'request_headers',
  'request_body',
  'request_trailers',
  'response_headers',
  'response_body',
  'response_trailers',
  'http_callout_done',
  'http_stream_headers',
  'http_stream_data',
  'http_stream_trailers',
  'http_stream_complete',
  'http_stream_reset',
  'scheduled',
  'downstream_above_write_buffer_high_watermark',
  'downstream_below_write_buffer_low_watermark',
].map((h) => `envoy_dynamic_module_on_http_filter_${h}`);

t.test('nm -D --defined-only lists on_program_init and every mandatory HTTP filter hook', async (t) => {
  const out = execFileSync('nm', ['-D', '--defined-only', path.join(buildDir, 'libnodevoy.so')]).toString();
  const defined = new Set(out.split('\n').map((l) => l.trim().split(/\s+/).at(-1)));
  for (const sym of ['envoy_dynamic_module_on_program_init', ...mandatory]) t.ok(defined.has(sym), sym);
  t.notOk(
    [...defined].some((s) => s.startsWith('envoy_dynamic_module_callback_')),
    'the module defines no callbacks: Envoy does',
  );
});

const symbols = (file, flag) =>
  new Set(
    execFileSync('nm', ['-D', flag, file])
      .toString()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).at(-1)?.replace(/@.*/, ''))
      .filter(Boolean),
  );

t.test(`every Envoy callback the module imports is exported by ${proxy.label}`, async (t) => {
  if (proxy.kind !== 'envoy')
    return t.pass(
      'the host exports its own list (test/host/exported_symbols.list); checked against Envoy on the envoy passes',
    );
  const imported = [...symbols(path.join(buildDir, 'libnodevoy.so'), '--undefined-only')].filter((s) =>
    s.startsWith('envoy_dynamic_module_callback_'),
  );
  const exported = symbols(proxy.bin, '--defined-only');
  t.ok(imported.length > 30, `the module imports ${imported.length} callbacks`);
  t.same(
    imported.filter((s) => !exported.has(s)),
    [],
    'none is missing from the binary (RTLD_NOW would fail the load)',
  );
  // Envoy's dynamic symbols must not interpose libnode's own V8, OpenSSL, libuv or nghttp2.
  const clash = [...exported].filter(
    (s) => /^(v8|node|uv_|SSL_|EVP_|OPENSSL_|CRYPTO_|nghttp2_|ares_|inflate|deflate)/.test(s) || s.startsWith('_ZN2v8'),
  );
  t.same(clash, [], 'Envoy exports none of the libraries libnode brings');
});
