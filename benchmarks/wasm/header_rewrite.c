// The benchmarks' Wasm peer: the same header rewrite as the JS `rewrite` filter and the native fixture's
// `headers` behaviour (request: set x-added: yes, remove x-remove; response: set x-resp: 1), written
// against the proxy-wasm ABI 0.2.1 with no SDK, so the measurement is Envoy's Wasm (V8) path itself.
// Built by benchmarks/build-wasm.sh with clang's wasm32 target and lld (Debian packages clang, lld).
#include <stddef.h>
#include <stdint.h>

#define EXPORT(name) __attribute__((export_name(#name)))
#define IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

enum { kRequestHeaders = 0, kResponseHeaders = 2 };
enum { kContinue = 0 };

IMPORT(proxy_replace_header_map_value)
int32_t proxy_replace_header_map_value(int32_t map, const char* key, size_t key_len, const char* value, size_t value_len);
IMPORT(proxy_remove_header_map_value)
int32_t proxy_remove_header_map_value(int32_t map, const char* key, size_t key_len);

// Envoy asks the module for memory to hand it bytes (configs, buffers); this filter reads none, so a
// small bump arena that wraps is enough.
static char arena[1 << 16];
static size_t arena_top;

EXPORT(proxy_on_memory_allocate) void* proxy_on_memory_allocate(size_t size) {
  size = (size + 7) & ~(size_t)7;
  if (size > sizeof(arena)) return NULL;
  if (arena_top + size > sizeof(arena)) arena_top = 0;
  void* p = arena + arena_top;
  arena_top += size;
  return p;
}

EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1(void) {}
EXPORT(proxy_on_context_create) void proxy_on_context_create(uint32_t context_id, uint32_t parent_id) {
  (void)context_id;
  (void)parent_id;
}
EXPORT(proxy_on_vm_start) int32_t proxy_on_vm_start(uint32_t root_id, size_t config_size) {
  (void)root_id;
  (void)config_size;
  return 1;
}
EXPORT(proxy_on_configure) int32_t proxy_on_configure(uint32_t root_id, size_t config_size) {
  (void)root_id;
  (void)config_size;
  return 1;
}

#define LIT(s) s, sizeof(s) - 1

EXPORT(proxy_on_request_headers) int32_t proxy_on_request_headers(uint32_t context_id, uint32_t headers, uint32_t end_of_stream) {
  (void)context_id;
  (void)headers;
  (void)end_of_stream;
  proxy_replace_header_map_value(kRequestHeaders, LIT("x-added"), LIT("yes"));
  proxy_remove_header_map_value(kRequestHeaders, LIT("x-remove"));
  return kContinue;
}

EXPORT(proxy_on_response_headers) int32_t proxy_on_response_headers(uint32_t context_id, uint32_t headers, uint32_t end_of_stream) {
  (void)context_id;
  (void)headers;
  (void)end_of_stream;
  proxy_replace_header_map_value(kResponseHeaders, LIT("x-resp"), LIT("1"));
  return kContinue;
}

EXPORT(proxy_on_done) int32_t proxy_on_done(uint32_t context_id) {
  (void)context_id;
  return 1;
}
EXPORT(proxy_on_log) void proxy_on_log(uint32_t context_id) { (void)context_id; }
EXPORT(proxy_on_delete) void proxy_on_delete(uint32_t context_id) { (void)context_id; }
