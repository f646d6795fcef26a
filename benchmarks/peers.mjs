// Envoy's own extension mechanisms as benchmark peers, doing what nodevoy's bench filters do
// (benchmarks/filters.cjs): Lua (envoy.filters.http.lua) and Wasm (envoy.filters.http.wasm on V8, the
// proxy-wasm module built from benchmarks/wasm/header_rewrite.c). Entries for hostConfig's `filters`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const wasmModule = path.join(here, 'wasm', 'header_rewrite.wasm');

const lua = (name, code) => ({
  name,
  typedConfig: {
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua',
    default_source_code: { inline_string: code },
  },
});

/** The header rewrite: request set x-added: yes, remove x-remove; response set x-resp: 1. */
export const luaRewrite = lua('lua_rewrite', `
function envoy_on_request(h)
  local headers = h:headers()
  headers:replace("x-added", "yes")
  headers:remove("x-remove")
end
function envoy_on_response(h)
  h:headers():replace("x-resp", "1")
end
`);

/** A callout to the upstream cluster's /check, its status and body copied into request headers. */
export const luaCallout = lua('lua_callout', `
function envoy_on_request(h)
  local headers, body = h:httpCall("upstream", {[":method"] = "GET", [":path"] = "/check", [":authority"] = "upstream"}, "", 1000)
  h:headers():replace("x-callout-status", headers[":status"])
  h:headers():replace("x-callout-body", body)
end
`);

/** One sync no-op per request (the price of entering Lua). */
export const luaNoop = lua('lua_noop', `
function envoy_on_request(h)
end
`);

export const wasmRewrite = {
  name: 'wasm_rewrite',
  typedConfig: {
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
    config: {
      name: 'header_rewrite',
      root_id: 'header_rewrite',
      vm_config: { runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: wasmModule } } },
    },
  },
};
