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
export const luaRewrite = lua(
  'lua_rewrite',
  `
function envoy_on_request(h)
  local headers = h:headers()
  headers:replace("x-added", "yes")
  headers:remove("x-remove")
end
function envoy_on_response(h)
  h:headers():replace("x-resp", "1")
end
`,
);

/** A callout to the upstream cluster's /check, its status and body copied into request headers. */
export const luaCallout = lua(
  'lua_callout',
  `
function envoy_on_request(h)
  local headers, body = h:httpCall("upstream", {[":method"] = "GET", [":path"] = "/check", [":authority"] = "upstream"}, "", 1000)
  h:headers():replace("x-callout-status", headers[":status"])
  h:headers():replace("x-callout-body", body)
end
`,
);

/** One sync no-op per request (the price of entering Lua). */
export const luaNoop = lua(
  'lua_noop',
  `
function envoy_on_request(h)
end
`,
);

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

/**
 * Lua's side of the price list: GET /__bench/luamicro?op=NAME&n=N runs one header operation N times (after
 * a warm-up) and answers {op, n, ns} (os.clock, CPU time). Each op calls through a closure; "empty" is
 * that loop alone, for scale. Other paths pass through.
 */
export const LUA_MICRO_OPS = {
  empty: 'empty loop (closure call)',
  get: 'headers():get (present)',
  absent: 'headers():get (absent)',
  set: 'headers():replace',
  addremove: 'headers():add + remove',
  iterate: 'pairs(headers()) full iteration',
};
export const luaMicro = lua(
  'lua_micro',
  `
function envoy_on_request(h)
  local hs = h:headers()
  local path = hs:get(":path")
  if string.sub(path, 1, 16) ~= "/__bench/luamicr" then return end
  local op = string.match(path, "op=([%a]+)")
  local n = tonumber(string.match(path, "n=(%d+)")) or 10000
  local sink
  local f
  if op == "empty" then f = function() sink = 1 end
  elseif op == "get" then f = function() sink = hs:get("x-bench-a") end
  elseif op == "absent" then f = function() sink = hs:get("x-bench-none") end
  elseif op == "set" then f = function() hs:replace("x-bench-set", "value") end
  elseif op == "addremove" then f = function() hs:add("x-bench-app", "v"); hs:remove("x-bench-app") end
  elseif op == "iterate" then f = function() local c = 0; for k, v in pairs(hs) do c = c + 1 end; sink = c end
  else
    h:respond({[":status"] = "404"}, "unknown op")
    return
  end
  for i = 1, math.min(n, 5000) do f() end
  local t0 = os.clock()
  for i = 1, n do f() end
  local ns = (os.clock() - t0) * 1e9 / n
  h:respond({[":status"] = "200", ["content-type"] = "application/json"}, string.format('{"op":"%s","n":%d,"ns":%.1f}', op, n, ns))
end
`,
);
