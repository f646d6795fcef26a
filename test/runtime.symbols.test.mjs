// libnodevoy.so exports every hook Envoy requires of an HTTP filter module, and on_program_init.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { buildDir } from './lib/harness.mjs';

const mandatory = [
  'config_new', 'config_destroy', 'new', 'stream_complete', 'destroy',
  'request_headers', 'request_body', 'request_trailers', 'response_headers', 'response_body', 'response_trailers',
  'http_callout_done', 'http_stream_headers', 'http_stream_data', 'http_stream_trailers', 'http_stream_complete',
  'http_stream_reset', 'scheduled', 'downstream_above_write_buffer_high_watermark', 'downstream_below_write_buffer_low_watermark',
].map((h) => `envoy_dynamic_module_on_http_filter_${h}`);

t.test('nm -D --defined-only lists on_program_init and every mandatory HTTP filter hook', async (t) => {
  const out = execFileSync('nm', ['-D', '--defined-only', path.join(buildDir, 'libnodevoy.so')]).toString();
  const defined = new Set(out.split('\n').map((l) => l.trim().split(/\s+/).at(-1)));
  for (const sym of ['envoy_dynamic_module_on_program_init', ...mandatory]) t.ok(defined.has(sym), sym);
  t.notOk([...defined].some((s) => s.startsWith('envoy_dynamic_module_callback_')), 'the module defines no callbacks: Envoy does');
});
