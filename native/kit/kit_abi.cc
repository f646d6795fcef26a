// Envoy's side of the ABI for the test kit: every callback the module makes, answered by a method of the
// fake Envoy (lib/testing/fake-envoy.ts). A stream's envoy pointer is the number the kit gave
// filterNew; a filter config's is the number it gave configNew. Values the module reads (headers, body
// chunks, attributes) are copied out of JS into memory that stays valid for the running operation.
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "envoy-filter/envoy_abi.h"
#include "native/kit/kit.h"

namespace nodevoy::kit {

namespace {

napi_env g_env = nullptr;
napi_ref g_fake = nullptr;
napi_ref g_error = nullptr;
double g_owner = 0;
std::deque<std::string> g_kept;  // a deque: its strings never move while it grows

napi_value num(double v) {
  napi_value out;
  napi_create_double(g_env, v, &out);
  return out;
}

napi_value boolean(bool v) {
  napi_value out;
  napi_get_boolean(g_env, v, &out);
  return out;
}

napi_value str(const char* p, size_t n) {
  napi_value out;
  napi_create_string_utf8(g_env, p ? p : "", p ? n : 0, &out);
  return out;
}

napi_value str(envoy_dynamic_module_type_module_buffer b) {
  return str(b.ptr, b.length);
}

napi_value bytes(const char* p, size_t n) {
  napi_value out;
  void* data = nullptr;
  napi_create_buffer_copy(g_env, p ? n : 0, p ? p : "", &data, &out);
  return out;
}

napi_value nullValue() {
  napi_value out;
  napi_get_null(g_env, &out);
  return out;
}

napi_value strings(const envoy_dynamic_module_type_module_buffer* items, size_t n) {
  napi_value out;
  napi_create_array_with_length(g_env, n, &out);
  for (size_t i = 0; i < n; i++) napi_set_element(g_env, out, static_cast<uint32_t>(i), str(items[i]));
  return out;
}

napi_value tagOf(const void* envoy_ptr) {
  return num(static_cast<double>(reinterpret_cast<uintptr_t>(envoy_ptr)));
}

napi_valuetype typeOf(napi_value v) {
  napi_valuetype t = napi_undefined;
  if (v) napi_typeof(g_env, v, &t);
  return t;
}

bool toBool(napi_value v) {
  bool out = false;
  if (typeOf(v) == napi_boolean) napi_get_value_bool(g_env, v, &out);
  return out;
}

double toNumber(napi_value v) {
  double out = 0;
  if (typeOf(v) == napi_number) napi_get_value_double(g_env, v, &out);
  return out;
}

std::string toUtf8(napi_value v) {
  size_t n = 0;
  napi_get_value_string_utf8(g_env, v, nullptr, 0, &n);
  std::string out(n, '\0');
  napi_get_value_string_utf8(g_env, v, out.data(), n + 1, &n);
  return out;
}

// A Uint8Array's bytes, or a string's UTF-8; false for anything else.
bool toBytes(napi_value v, std::string* out) {
  if (typeOf(v) == napi_string) {
    *out = toUtf8(v);
    return true;
  }
  bool is = false;
  napi_is_typedarray(g_env, v, &is);
  if (!is) return false;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_get_typedarray_info(g_env, v, &type, &length, &data, nullptr, nullptr);
  out->assign(static_cast<const char*>(data), length);
  return true;
}

envoy_dynamic_module_type_envoy_buffer kept(std::string s) {
  std::string_view v = keep(std::move(s));
  return {v.data(), v.size()};
}

uint32_t arrayLength(napi_value v) {
  bool is = false;
  napi_is_array(g_env, v, &is);
  uint32_t n = 0;
  if (is) napi_get_array_length(g_env, v, &n);
  return n;
}

napi_value element(napi_value array, uint32_t i) {
  napi_value out;
  napi_get_element(g_env, array, i, &out);
  return out;
}

// The fake's body for a body type: an array of Uint8Array chunks, or null.
napi_value bodyOf(envoy_dynamic_module_type_http_filter_envoy_ptr p, envoy_dynamic_module_type_http_body_type type) {
  napi_value argv[2] = {tagOf(p), num(type)};
  return callFake("body", argv);
}

envoy_dynamic_module_type_metrics_result metric(const char* op, envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                size_t id, envoy_dynamic_module_type_module_buffer* values, size_t n,
                                                uint64_t value) {
  napi_value argv[5] = {tagOf(p), str(op, std::strlen(op)), num(static_cast<double>(id)), strings(values, n),
                        num(static_cast<double>(value))};
  return toBool(callFake("metric", argv)) ? envoy_dynamic_module_type_metrics_result_Success
                                          : envoy_dynamic_module_type_metrics_result_InvalidLabels;
}

envoy_dynamic_module_type_metrics_result define(const char* kind,
                                                envoy_dynamic_module_type_http_filter_config_envoy_ptr config,
                                                envoy_dynamic_module_type_module_buffer name,
                                                envoy_dynamic_module_type_module_buffer* labels, size_t n, size_t* id) {
  napi_value argv[4] = {tagOf(config), str(kind, std::strlen(kind)), str(name), strings(labels, n)};
  const double r = toNumber(callFake("defineMetric", argv));
  if (r < 0) return envoy_dynamic_module_type_metrics_result_Frozen;
  *id = static_cast<size_t>(r);
  return envoy_dynamic_module_type_metrics_result_Success;
}

// The fake's answer as the type the callback reads; false (the callback's "not found") for another type.
bool asString(napi_value v, envoy_dynamic_module_type_envoy_buffer* out) {
  if (typeOf(v) != napi_string) return false;
  *out = kept(toUtf8(v));
  return true;
}

template <typename T>
bool asNumber(napi_value v, T* out) {
  if (typeOf(v) != napi_number) return false;
  *out = static_cast<T>(toNumber(v));
  return true;
}

bool asBool(napi_value v, bool* out) {
  if (typeOf(v) != napi_boolean) return false;
  *out = toBool(v);
  return true;
}

napi_value headerArray(const envoy_dynamic_module_type_module_http_header* headers, size_t count) {
  napi_value flat;
  napi_create_array_with_length(g_env, 2 * count, &flat);
  for (size_t i = 0; i < count; i++) {
    napi_set_element(g_env, flat, static_cast<uint32_t>(2 * i), str(headers[i].key_ptr, headers[i].key_length));
    napi_set_element(g_env, flat, static_cast<uint32_t>(2 * i + 1), str(headers[i].value_ptr, headers[i].value_length));
  }
  return flat;
}

napi_value attributeOf(envoy_dynamic_module_type_http_filter_envoy_ptr p, envoy_dynamic_module_type_attribute_id id) {
  napi_value argv[2] = {tagOf(p), num(id)};
  return callFake("attribute", argv);
}

napi_value metadataOf(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                      envoy_dynamic_module_type_metadata_source source, envoy_dynamic_module_type_module_buffer ns,
                      envoy_dynamic_module_type_module_buffer key) {
  napi_value argv[4] = {tagOf(p), num(source), str(ns), str(key)};
  return callFake("getMetadata", argv);
}

}  // namespace

void setFake(napi_env env, napi_value fake) {
  g_env = env;
  if (g_fake) napi_delete_reference(env, g_fake);
  napi_create_reference(env, fake, 1, &g_fake);
}

napi_value callFake(const char* method, size_t argc, const napi_value* argv) {
  napi_value fake, fn, result = nullptr;
  napi_get_reference_value(g_env, g_fake, &fake);
  napi_get_named_property(g_env, fake, method, &fn);
  if (napi_call_function(g_env, fake, fn, argc, argv, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(g_env, &pending);
    if (pending) {
      napi_value e;
      napi_get_and_clear_last_exception(g_env, &e);
      if (!g_error) napi_create_reference(g_env, e, 1, &g_error);
    }
    napi_get_undefined(g_env, &result);
  }
  return result;
}

napi_value takeError() {
  if (!g_error) return nullptr;
  napi_value e;
  napi_get_reference_value(g_env, g_error, &e);
  napi_delete_reference(g_env, g_error);
  g_error = nullptr;
  return e;
}

void setOwner(double owner) {
  g_owner = owner;
}

std::string_view keep(std::string bytes) {
  return g_kept.emplace_back(std::move(bytes));
}

void releaseKept() {
  g_kept.clear();
}

}  // namespace nodevoy::kit

using namespace nodevoy::kit;  // NOLINT: the callbacks below are Envoy's C names

extern "C" {

void envoy_dynamic_module_callback_log(envoy_dynamic_module_type_log_level level,
                                       envoy_dynamic_module_type_module_buffer message) {
  napi_value argv[3] = {num(level), str(message), num(g_owner)};
  callFake("log", argv);
}

bool envoy_dynamic_module_callback_log_enabled(envoy_dynamic_module_type_log_level level) {
  napi_value argv[2] = {num(level), num(g_owner)};
  return toBool(callFake("logEnabled", argv));
}

envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_config_define_counter(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr config, envoy_dynamic_module_type_module_buffer name,
    envoy_dynamic_module_type_module_buffer* labels, size_t n, size_t* id) {
  return define("counter", config, name, labels, n, id);
}

envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_config_define_gauge(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr config, envoy_dynamic_module_type_module_buffer name,
    envoy_dynamic_module_type_module_buffer* labels, size_t n, size_t* id) {
  return define("gauge", config, name, labels, n, id);
}

envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_config_define_histogram(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr config, envoy_dynamic_module_type_module_buffer name,
    envoy_dynamic_module_type_module_buffer* labels, size_t n, size_t* id) {
  return define("histogram", config, name, labels, n, id);
}

envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_increment_counter(
    envoy_dynamic_module_type_http_filter_envoy_ptr p, size_t id, envoy_dynamic_module_type_module_buffer* values,
    size_t n, uint64_t value) {
  return metric("add", p, id, values, n, value);
}

envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_increment_gauge(
    envoy_dynamic_module_type_http_filter_envoy_ptr p, size_t id, envoy_dynamic_module_type_module_buffer* values,
    size_t n, uint64_t value) {
  return metric("add", p, id, values, n, value);
}

envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_decrement_gauge(
    envoy_dynamic_module_type_http_filter_envoy_ptr p, size_t id, envoy_dynamic_module_type_module_buffer* values,
    size_t n, uint64_t value) {
  return metric("sub", p, id, values, n, value);
}

envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_set_gauge(
    envoy_dynamic_module_type_http_filter_envoy_ptr p, size_t id, envoy_dynamic_module_type_module_buffer* values,
    size_t n, uint64_t value) {
  return metric("set", p, id, values, n, value);
}

envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_record_histogram_value(
    envoy_dynamic_module_type_http_filter_envoy_ptr p, size_t id, envoy_dynamic_module_type_module_buffer* values,
    size_t n, uint64_t value) {
  return metric("record", p, id, values, n, value);
}

uint32_t envoy_dynamic_module_callback_http_filter_get_worker_index(envoy_dynamic_module_type_http_filter_envoy_ptr) {
  return 0;
}

envoy_dynamic_module_type_http_filter_per_route_config_module_ptr
envoy_dynamic_module_callback_get_most_specific_route_config(envoy_dynamic_module_type_http_filter_envoy_ptr p) {
  napi_value argv[1] = {tagOf(p)};
  return reinterpret_cast<envoy_dynamic_module_type_http_filter_per_route_config_module_ptr>(
      static_cast<uintptr_t>(toNumber(callFake("routeConfig", argv))));
}

bool envoy_dynamic_module_callback_http_get_header(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                   envoy_dynamic_module_type_http_header_type type,
                                                   envoy_dynamic_module_type_module_buffer key,
                                                   envoy_dynamic_module_type_envoy_buffer* result, size_t index,
                                                   size_t* count) {
  napi_value argv[3] = {tagOf(p), num(type), str(key)};
  napi_value values = callFake("headerValues", argv);
  const uint32_t n = arrayLength(values);
  if (count) *count = n;
  *result = {nullptr, 0};
  if (typeOf(values) != napi_object || index >= n) return false;
  *result = kept(toUtf8(element(values, static_cast<uint32_t>(index))));
  return true;
}

size_t envoy_dynamic_module_callback_http_get_headers_size(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                           envoy_dynamic_module_type_http_header_type type) {
  napi_value argv[2] = {tagOf(p), num(type)};
  return arrayLength(callFake("headers", argv)) / 2;
}

bool envoy_dynamic_module_callback_http_get_headers(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                    envoy_dynamic_module_type_http_header_type type,
                                                    envoy_dynamic_module_type_envoy_http_header* out) {
  napi_value argv[2] = {tagOf(p), num(type)};
  napi_value flat = callFake("headers", argv);
  if (typeOf(flat) != napi_object) return false;
  const uint32_t n = arrayLength(flat) / 2;
  for (uint32_t i = 0; i < n; i++) {
    auto k = kept(toUtf8(element(flat, 2 * i)));
    auto v = kept(toUtf8(element(flat, 2 * i + 1)));
    out[i] = {k.ptr, k.length, v.ptr, v.length};
  }
  return true;
}

bool envoy_dynamic_module_callback_http_set_header(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                   envoy_dynamic_module_type_http_header_type type,
                                                   envoy_dynamic_module_type_module_buffer key,
                                                   envoy_dynamic_module_type_module_buffer value) {
  napi_value argv[4] = {tagOf(p), num(type), str(key), value.ptr ? str(value) : nullValue()};
  return toBool(callFake("setHeader", argv));
}

bool envoy_dynamic_module_callback_http_add_header(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                   envoy_dynamic_module_type_http_header_type type,
                                                   envoy_dynamic_module_type_module_buffer key,
                                                   envoy_dynamic_module_type_module_buffer value) {
  napi_value argv[4] = {tagOf(p), num(type), str(key), str(value)};
  return toBool(callFake("addHeader", argv));
}

size_t envoy_dynamic_module_callback_http_get_body_chunks_size(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                               envoy_dynamic_module_type_http_body_type type) {
  return arrayLength(bodyOf(p, type));
}

size_t envoy_dynamic_module_callback_http_get_body_size(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                        envoy_dynamic_module_type_http_body_type type) {
  napi_value chunks = bodyOf(p, type);
  size_t total = 0;
  for (uint32_t i = 0, n = arrayLength(chunks); i < n; i++) {
    size_t length = 0;
    napi_get_typedarray_info(g_env, element(chunks, i), nullptr, &length, nullptr, nullptr, nullptr);
    total += length;
  }
  return total;
}

bool envoy_dynamic_module_callback_http_get_body_chunks(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                        envoy_dynamic_module_type_http_body_type type,
                                                        envoy_dynamic_module_type_envoy_buffer* out) {
  napi_value chunks = bodyOf(p, type);
  if (typeOf(chunks) != napi_object) return false;
  for (uint32_t i = 0, n = arrayLength(chunks); i < n; i++) {
    std::string b;
    toBytes(element(chunks, i), &b);
    out[i] = kept(std::move(b));
  }
  return true;
}

bool envoy_dynamic_module_callback_http_drain_body(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                   envoy_dynamic_module_type_http_body_type type, size_t n) {
  napi_value argv[3] = {tagOf(p), num(type), num(static_cast<double>(n))};
  return toBool(callFake("drainBody", argv));
}

bool envoy_dynamic_module_callback_http_append_body(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                    envoy_dynamic_module_type_http_body_type type,
                                                    envoy_dynamic_module_type_module_buffer data) {
  napi_value argv[3] = {tagOf(p), num(type), bytes(data.ptr, data.length)};
  return toBool(callFake("appendBody", argv));
}

void envoy_dynamic_module_callback_http_send_response(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                      uint32_t status,
                                                      envoy_dynamic_module_type_module_http_header* headers,
                                                      size_t count, envoy_dynamic_module_type_module_buffer body,
                                                      envoy_dynamic_module_type_module_buffer details) {
  napi_value argv[5] = {tagOf(p), num(status), headerArray(headers, count), bytes(body.ptr, body.length), str(details)};
  callFake("sendResponse", argv);
}

void envoy_dynamic_module_callback_http_filter_continue_decoding(envoy_dynamic_module_type_http_filter_envoy_ptr p) {
  napi_value argv[2] = {tagOf(p), num(0)};
  callFake("continueStream", argv);
}

void envoy_dynamic_module_callback_http_filter_continue_encoding(envoy_dynamic_module_type_http_filter_envoy_ptr p) {
  napi_value argv[2] = {tagOf(p), num(1)};
  callFake("continueStream", argv);
}

void envoy_dynamic_module_callback_http_filter_reset_stream(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                            envoy_dynamic_module_type_http_filter_stream_reset_reason,
                                                            envoy_dynamic_module_type_module_buffer details) {
  napi_value argv[2] = {tagOf(p), str(details)};
  callFake("resetStream", argv);
}

// A stream's scheduler is its envoy pointer: the kit posts the event to that stream's queue.
envoy_dynamic_module_type_http_filter_scheduler_module_ptr envoy_dynamic_module_callback_http_filter_scheduler_new(
    envoy_dynamic_module_type_http_filter_envoy_ptr p) {
  return reinterpret_cast<envoy_dynamic_module_type_http_filter_scheduler_module_ptr>(p);
}

void envoy_dynamic_module_callback_http_filter_scheduler_commit(
    envoy_dynamic_module_type_http_filter_scheduler_module_ptr scheduler, uint64_t event_id) {
  napi_value argv[2] = {tagOf(scheduler), num(static_cast<double>(event_id))};
  callFake("commit", argv);
}

void envoy_dynamic_module_callback_http_filter_scheduler_delete(
    envoy_dynamic_module_type_http_filter_scheduler_module_ptr) {}

envoy_dynamic_module_type_http_callout_init_result envoy_dynamic_module_callback_http_filter_http_callout(
    envoy_dynamic_module_type_http_filter_envoy_ptr p, uint64_t* callout_id,
    envoy_dynamic_module_type_module_buffer cluster, envoy_dynamic_module_type_module_http_header* headers,
    size_t count, envoy_dynamic_module_type_module_buffer body, uint64_t timeout_ms) {
  napi_value argv[5] = {tagOf(p), str(cluster), headerArray(headers, count), bytes(body.ptr, body.length),
                        num(static_cast<double>(timeout_ms))};
  // The fake answers the callout id (> 0), or minus the init result Envoy refuses it with.
  const double r = toNumber(callFake("callout", argv));
  if (r <= 0) {
    return r == 0 ? envoy_dynamic_module_type_http_callout_init_result_CannotCreateRequest
                  : static_cast<envoy_dynamic_module_type_http_callout_init_result>(static_cast<int>(-r));
  }
  *callout_id = static_cast<uint64_t>(r);
  return envoy_dynamic_module_type_http_callout_init_result_Success;
}

bool envoy_dynamic_module_callback_http_filter_get_attribute_string(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                                    envoy_dynamic_module_type_attribute_id id,
                                                                    envoy_dynamic_module_type_envoy_buffer* result) {
  return asString(attributeOf(p, id), result);
}

bool envoy_dynamic_module_callback_http_filter_get_attribute_int(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                                 envoy_dynamic_module_type_attribute_id id,
                                                                 uint64_t* result) {
  return asNumber(attributeOf(p, id), result);
}

bool envoy_dynamic_module_callback_http_filter_get_attribute_bool(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                                  envoy_dynamic_module_type_attribute_id id,
                                                                  bool* result) {
  return asBool(attributeOf(p, id), result);
}

bool envoy_dynamic_module_callback_http_get_metadata_string(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                            envoy_dynamic_module_type_metadata_source source,
                                                            envoy_dynamic_module_type_module_buffer ns,
                                                            envoy_dynamic_module_type_module_buffer key,
                                                            envoy_dynamic_module_type_envoy_buffer* result) {
  return asString(metadataOf(p, source, ns, key), result);
}

bool envoy_dynamic_module_callback_http_get_metadata_number(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                            envoy_dynamic_module_type_metadata_source source,
                                                            envoy_dynamic_module_type_module_buffer ns,
                                                            envoy_dynamic_module_type_module_buffer key,
                                                            double* result) {
  return asNumber(metadataOf(p, source, ns, key), result);
}

bool envoy_dynamic_module_callback_http_get_metadata_bool(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                          envoy_dynamic_module_type_metadata_source source,
                                                          envoy_dynamic_module_type_module_buffer ns,
                                                          envoy_dynamic_module_type_module_buffer key, bool* result) {
  return asBool(metadataOf(p, source, ns, key), result);
}

void envoy_dynamic_module_callback_http_set_dynamic_metadata_string(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                                    envoy_dynamic_module_type_module_buffer ns,
                                                                    envoy_dynamic_module_type_module_buffer key,
                                                                    envoy_dynamic_module_type_module_buffer value) {
  napi_value argv[4] = {tagOf(p), str(ns), str(key), str(value)};
  callFake("setMetadata", argv);
}

void envoy_dynamic_module_callback_http_set_dynamic_metadata_number(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                                    envoy_dynamic_module_type_module_buffer ns,
                                                                    envoy_dynamic_module_type_module_buffer key,
                                                                    double value) {
  napi_value argv[4] = {tagOf(p), str(ns), str(key), num(value)};
  callFake("setMetadata", argv);
}

void envoy_dynamic_module_callback_http_set_dynamic_metadata_bool(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                                  envoy_dynamic_module_type_module_buffer ns,
                                                                  envoy_dynamic_module_type_module_buffer key,
                                                                  bool value) {
  napi_value argv[4] = {tagOf(p), str(ns), str(key), boolean(value)};
  callFake("setMetadata", argv);
}

bool envoy_dynamic_module_callback_http_get_filter_state_bytes(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                               envoy_dynamic_module_type_module_buffer key,
                                                               envoy_dynamic_module_type_envoy_buffer* result) {
  napi_value argv[2] = {tagOf(p), str(key)};
  std::string b;
  if (!toBytes(callFake("getFilterState", argv), &b)) return false;
  *result = kept(std::move(b));
  return true;
}

bool envoy_dynamic_module_callback_http_set_filter_state_bytes(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                               envoy_dynamic_module_type_module_buffer key,
                                                               envoy_dynamic_module_type_module_buffer value) {
  napi_value argv[3] = {tagOf(p), str(key), bytes(value.ptr, value.length)};
  return toBool(callFake("setFilterState", argv));
}

void envoy_dynamic_module_callback_http_clear_route_cache(envoy_dynamic_module_type_http_filter_envoy_ptr p) {
  napi_value argv[1] = {tagOf(p)};
  callFake("clearRouteCache", argv);
}

bool envoy_dynamic_module_callback_http_set_upstream_override_host(envoy_dynamic_module_type_http_filter_envoy_ptr p,
                                                                   envoy_dynamic_module_type_module_buffer host,
                                                                   bool strict) {
  napi_value argv[3] = {tagOf(p), str(host), boolean(strict)};
  return toBool(callFake("setUpstreamOverrideHost", argv));
}

}  // extern "C"
