// The envoy_dynamic_module_callback_* functions a module imports, with Envoy's semantics and stricter
// checks: every filter callback must run on the stream's worker, inside a hook, with a live filter.
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "envoy-filter/envoy_abi.h"
#include "filter_config.h"
#include "log.h"
#include "stream.h"
#include "worker.h"

using namespace host;

namespace host {
std::thread::id g_main_thread;
uint32_t g_concurrency = 1;
}  // namespace host

namespace {

std::string_view sv(envoy_dynamic_module_type_module_buffer b) {
  return b.ptr ? std::string_view(b.ptr, b.length) : std::string_view();
}

FilterSlot* slotOf(void* p, const char* cb) {
  Worker* w = Worker::current();
  if (!w) fatal(std::string(cb) + " called from a thread that is not an Envoy worker thread; use the scheduler");
  auto* slot = static_cast<FilterSlot*>(p);
  if (!w->liveSlots().count(slot))
    fatal(std::string(cb) + " called with a filter that is not live on this worker (destroyed, or another worker's)");
  if (w->hookDepth() == 0) fatal(std::string(cb) + " called outside an event hook");
  return slot;
}

FilterConfig* configOf(void* p, const char* cb) {
  auto* cfg = static_cast<FilterConfig*>(p);
  if (std::this_thread::get_id() != cfg->mainThread()) fatal(std::string(cb) + " called off the main thread");
  return cfg;
}

void mainOnly(const char* cb) {
  if (std::this_thread::get_id() != g_main_thread) fatal(std::string(cb) + " must be called on the main thread");
}

envoy_dynamic_module_type_envoy_buffer lendBuf(std::string_view s) {
  return {Worker::current()->lend(s), s.size()};
}
envoy_dynamic_module_type_envoy_buffer lendTemp(const std::string& s) {
  return {Worker::current()->lendCopy(s), s.size()};
}

std::vector<std::string> labels(envoy_dynamic_module_type_module_buffer* v, size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; i++) out.emplace_back(sv(v[i]));
  return out;
}

bool validHeaderType(int t) {
  return t >= 0 && t <= 3;
}
bool validBodyType(int t) {
  return t >= 0 && t <= 3;
}

}  // namespace

#define EXPORT extern "C" __attribute__((visibility("default")))

// ---- common ----

EXPORT void envoy_dynamic_module_callback_log(envoy_dynamic_module_type_log_level level,
                                              envoy_dynamic_module_type_module_buffer message) {
  logLine(static_cast<LogLevel>(level), "dynamic_modules", sv(message));
}

EXPORT void envoy_dynamic_module_callback_log_v2(envoy_dynamic_module_type_log_level level,
                                                 envoy_dynamic_module_type_module_buffer message,
                                                 envoy_dynamic_module_type_module_buffer source_file,
                                                 uint32_t source_line) {
  if (!logEnabled(static_cast<LogLevel>(level))) return;
  std::string msg;
  msg.append("[")
      .append(sv(source_file))
      .append(":")
      .append(std::to_string(source_line))
      .append("] ")
      .append(sv(message));
  logLine(static_cast<LogLevel>(level), "dynamic_modules", msg);
}

EXPORT bool envoy_dynamic_module_callback_log_enabled(envoy_dynamic_module_type_log_level level) {
  return logEnabled(static_cast<LogLevel>(level));
}

EXPORT envoy_dynamic_module_type_log_level envoy_dynamic_module_callback_get_log_level(void) {
  return static_cast<envoy_dynamic_module_type_log_level>(g_log_level.load());
}

EXPORT uint32_t envoy_dynamic_module_callback_get_concurrency(void) {
  mainOnly("envoy_dynamic_module_callback_get_concurrency");
  return g_concurrency;
}

EXPORT bool envoy_dynamic_module_callback_is_validation_mode(void) {
  mainOnly("envoy_dynamic_module_callback_is_validation_mode");
  return false;
}

// ---- metrics ----

#define DEFINE_METRIC(fn, kind)                                                                                 \
  EXPORT envoy_dynamic_module_type_metrics_result fn(                                                           \
      envoy_dynamic_module_type_http_filter_config_envoy_ptr cfg, envoy_dynamic_module_type_module_buffer name, \
      envoy_dynamic_module_type_module_buffer* label_names, size_t n, size_t* id) {                             \
    return configOf(cfg, #fn)->define(kind, sv(name), labels(label_names, n), id);                              \
  }
DEFINE_METRIC(envoy_dynamic_module_callback_http_filter_config_define_counter, MetricKind::Counter)
DEFINE_METRIC(envoy_dynamic_module_callback_http_filter_config_define_gauge, MetricKind::Gauge)
DEFINE_METRIC(envoy_dynamic_module_callback_http_filter_config_define_histogram, MetricKind::Histogram)

#define RECORD_METRIC(fn, kind, sign, set)                                                                         \
  EXPORT envoy_dynamic_module_type_metrics_result fn(envoy_dynamic_module_type_http_filter_envoy_ptr f, size_t id, \
                                                     envoy_dynamic_module_type_module_buffer* lv, size_t n,        \
                                                     uint64_t value) {                                             \
    return slotOf(f, #fn)->config->record(kind, id, labels(lv, n), sign static_cast<int64_t>(value), set);         \
  }
RECORD_METRIC(envoy_dynamic_module_callback_http_filter_increment_counter, MetricKind::Counter, +, false)
RECORD_METRIC(envoy_dynamic_module_callback_http_filter_increment_gauge, MetricKind::Gauge, +, false)
RECORD_METRIC(envoy_dynamic_module_callback_http_filter_decrement_gauge, MetricKind::Gauge, -, false)
RECORD_METRIC(envoy_dynamic_module_callback_http_filter_set_gauge, MetricKind::Gauge, +, true)
RECORD_METRIC(envoy_dynamic_module_callback_http_filter_record_histogram_value, MetricKind::Histogram, +, false)

#define RECORD_CONFIG_METRIC(fn, kind, sign, set)                                                                      \
  EXPORT envoy_dynamic_module_type_metrics_result fn(envoy_dynamic_module_type_http_filter_config_envoy_ptr c,         \
                                                     size_t id, envoy_dynamic_module_type_module_buffer* lv, size_t n, \
                                                     uint64_t value) {                                                 \
    return static_cast<FilterConfig*>(c)->record(kind, id, labels(lv, n), sign static_cast<int64_t>(value), set);      \
  }
RECORD_CONFIG_METRIC(envoy_dynamic_module_callback_http_filter_config_increment_counter, MetricKind::Counter, +, false)
RECORD_CONFIG_METRIC(envoy_dynamic_module_callback_http_filter_config_increment_gauge, MetricKind::Gauge, +, false)
RECORD_CONFIG_METRIC(envoy_dynamic_module_callback_http_filter_config_decrement_gauge, MetricKind::Gauge, -, false)
RECORD_CONFIG_METRIC(envoy_dynamic_module_callback_http_filter_config_set_gauge, MetricKind::Gauge, +, true)
RECORD_CONFIG_METRIC(envoy_dynamic_module_callback_http_filter_config_record_histogram_value, MetricKind::Histogram, +,
                     false)

// ---- headers ----

EXPORT bool envoy_dynamic_module_callback_http_get_header(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                          envoy_dynamic_module_type_http_header_type type,
                                                          envoy_dynamic_module_type_module_buffer key,
                                                          envoy_dynamic_module_type_envoy_buffer* result, size_t index,
                                                          size_t* optional_size) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_get_header");
  if (!validHeaderType(type)) return false;
  HeaderMap* m = slot->stream->headerMap(type);
  auto values = m ? m->all(sv(key)) : std::vector<const HeaderMap::Entry*>();
  if (optional_size) *optional_size = values.size();
  if (index >= values.size()) {
    *result = {nullptr, 0};
    return false;
  }
  *result = lendBuf(values[index]->second);
  return true;
}

EXPORT bool envoy_dynamic_module_callback_http_get_header_values(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                                 envoy_dynamic_module_type_http_header_type type,
                                                                 envoy_dynamic_module_type_module_buffer key,
                                                                 envoy_dynamic_module_type_envoy_buffer* result) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_get_header_values");
  if (!validHeaderType(type)) return false;
  HeaderMap* m = slot->stream->headerMap(type);
  if (!m) return false;
  auto values = m->all(sv(key));
  for (size_t i = 0; i < values.size(); i++) result[i] = lendBuf(values[i]->second);
  return !values.empty();
}

EXPORT size_t envoy_dynamic_module_callback_http_get_headers_size(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                                  envoy_dynamic_module_type_http_header_type type) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_get_headers_size");
  if (!validHeaderType(type)) return 0;
  HeaderMap* m = slot->stream->headerMap(type);
  return m ? m->size() : 0;
}

EXPORT bool envoy_dynamic_module_callback_http_get_headers(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                           envoy_dynamic_module_type_http_header_type type,
                                                           envoy_dynamic_module_type_envoy_http_header* out) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_get_headers");
  if (!validHeaderType(type)) return false;
  HeaderMap* m = slot->stream->headerMap(type);
  if (!m) return false;
  auto* w = Worker::current();
  size_t i = 0;
  for (const auto& [k, v] : m->entries()) out[i++] = {w->lend(k), k.size(), w->lend(v), v.size()};
  return true;
}

namespace {
// Stricter than Envoy: a module that would put CR, LF or NUL on the wire is a bug we stop at once.
void checkHeaderBytes(std::string_view s, const char* cb) {
  for (char c : s)
    if (c == '\r' || c == '\n' || c == '\0') fatal(std::string(cb) + " given a header with CR, LF or NUL");
}
}  // namespace

EXPORT bool envoy_dynamic_module_callback_http_set_header(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                          envoy_dynamic_module_type_http_header_type type,
                                                          envoy_dynamic_module_type_module_buffer key,
                                                          envoy_dynamic_module_type_module_buffer value) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_set_header");
  if (!validHeaderType(type)) return false;
  HeaderMap* m = slot->stream->headerMap(type);
  if (!m || sv(key).empty()) return false;
  checkHeaderBytes(sv(key), "envoy_dynamic_module_callback_http_set_header");
  // Envoy 1.39/1.40: a NULL or zero-length value removes every value of the key (and reports success).
  if (!value.ptr || value.length == 0) {
    m->remove(sv(key));
    return true;
  }
  checkHeaderBytes(sv(value), "envoy_dynamic_module_callback_http_set_header");
  m->set(sv(key), sv(value));
  return true;
}

EXPORT bool envoy_dynamic_module_callback_http_add_header(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                          envoy_dynamic_module_type_http_header_type type,
                                                          envoy_dynamic_module_type_module_buffer key,
                                                          envoy_dynamic_module_type_module_buffer value) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_add_header");
  if (!validHeaderType(type)) return false;
  HeaderMap* m = slot->stream->headerMap(type);
  if (!m || sv(key).empty()) return false;
  checkHeaderBytes(sv(key), "envoy_dynamic_module_callback_http_add_header");
  checkHeaderBytes(sv(value), "envoy_dynamic_module_callback_http_add_header");
  if (value.length == 0) return false;  // Envoy 1.39/1.40 add nothing and report failure
  m->add(sv(key), sv(value));
  return true;
}

// ---- local replies ----

EXPORT void envoy_dynamic_module_callback_http_send_response(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                             uint32_t status,
                                                             envoy_dynamic_module_type_module_http_header* headers,
                                                             size_t n, envoy_dynamic_module_type_module_buffer body,
                                                             envoy_dynamic_module_type_module_buffer details) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_send_response");
  HeaderMap extra;
  for (size_t i = 0; i < n; i++) {
    std::string_view k(headers[i].key_ptr, headers[i].key_length), v(headers[i].value_ptr, headers[i].value_length);
    checkHeaderBytes(k, "envoy_dynamic_module_callback_http_send_response");
    checkHeaderBytes(v, "envoy_dynamic_module_callback_http_send_response");
    extra.add(k, v);
  }
  std::string d(sv(details));
  slot->stream->sendLocalReply(status, std::string(sv(body)), std::move(extra), d.empty() ? "dynamic_module" : d, slot);
}

EXPORT void envoy_dynamic_module_callback_http_send_response_headers(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                                     envoy_dynamic_module_type_module_http_header*,
                                                                     size_t, bool) {
  slotOf(f, "envoy_dynamic_module_callback_http_send_response_headers");
  fatal("envoy_dynamic_module_callback_http_send_response_headers: terminal filters are not supported by nodevoy-host");
}

EXPORT void envoy_dynamic_module_callback_http_send_response_data(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                                  envoy_dynamic_module_type_module_buffer, bool) {
  slotOf(f, "envoy_dynamic_module_callback_http_send_response_data");
  fatal("envoy_dynamic_module_callback_http_send_response_data: terminal filters are not supported by nodevoy-host");
}

EXPORT void envoy_dynamic_module_callback_http_send_response_trailers(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                                      envoy_dynamic_module_type_module_http_header*,
                                                                      size_t) {
  slotOf(f, "envoy_dynamic_module_callback_http_send_response_trailers");
  fatal(
      "envoy_dynamic_module_callback_http_send_response_trailers: terminal filters are not supported by nodevoy-host");
}

// ---- bodies ----

EXPORT size_t envoy_dynamic_module_callback_http_get_body_size(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                               envoy_dynamic_module_type_http_body_type t) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_get_body_size");
  Buffer* b = validBodyType(t) ? slot->stream->body(t) : nullptr;
  return b ? b->size() : 0;
}

EXPORT size_t envoy_dynamic_module_callback_http_get_body_chunks_size(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                                      envoy_dynamic_module_type_http_body_type t) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_get_body_chunks_size");
  Buffer* b = validBodyType(t) ? slot->stream->body(t) : nullptr;
  return b ? b->slices().size() : 0;
}

EXPORT bool envoy_dynamic_module_callback_http_get_body_chunks(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                               envoy_dynamic_module_type_http_body_type t,
                                                               envoy_dynamic_module_type_envoy_buffer* out) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_get_body_chunks");
  Buffer* b = validBodyType(t) ? slot->stream->body(t) : nullptr;
  if (!b) return false;
  size_t i = 0;
  for (const auto& s : b->slices()) out[i++] = lendBuf(s);
  return true;
}

EXPORT bool envoy_dynamic_module_callback_http_append_body(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                           envoy_dynamic_module_type_http_body_type t,
                                                           envoy_dynamic_module_type_module_buffer data) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_append_body");
  Buffer* b = validBodyType(t) ? slot->stream->body(t) : nullptr;
  if (!b) return false;
  b->append(sv(data));
  return true;
}

EXPORT bool envoy_dynamic_module_callback_http_drain_body(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                          envoy_dynamic_module_type_http_body_type t, size_t n) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_drain_body");
  Buffer* b = validBodyType(t) ? slot->stream->body(t) : nullptr;
  if (!b) return false;
  b->drain(n);
  return true;
}

EXPORT bool envoy_dynamic_module_callback_http_received_buffered_request_body(
    envoy_dynamic_module_type_http_filter_envoy_ptr f) {
  return slotOf(f, "envoy_dynamic_module_callback_http_received_buffered_request_body")
      ->stream->receivedIsBuffered(Dir::Decode);
}

EXPORT bool envoy_dynamic_module_callback_http_received_buffered_response_body(
    envoy_dynamic_module_type_http_filter_envoy_ptr f) {
  return slotOf(f, "envoy_dynamic_module_callback_http_received_buffered_response_body")
      ->stream->receivedIsBuffered(Dir::Encode);
}

EXPORT uint64_t envoy_dynamic_module_callback_http_get_buffer_limit(envoy_dynamic_module_type_http_filter_envoy_ptr f) {
  return slotOf(f, "envoy_dynamic_module_callback_http_get_buffer_limit")->stream->bufferLimit();
}

EXPORT void envoy_dynamic_module_callback_http_set_buffer_limit(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                                uint64_t l) {
  slotOf(f, "envoy_dynamic_module_callback_http_set_buffer_limit")->stream->setBufferLimit(l);
}

// ---- metadata and filter state ----

namespace {
template <typename T>
void setMeta(void* f, const char* cb, envoy_dynamic_module_type_module_buffer ns,
             envoy_dynamic_module_type_module_buffer key, T v) {
  slotOf(f, cb)->stream->dynamicMetadata()[std::string(sv(ns))][std::string(sv(key))] = v;
}
template <typename T>
const T* getMeta(void* f, const char* cb, envoy_dynamic_module_type_metadata_source src,
                 envoy_dynamic_module_type_module_buffer ns, envoy_dynamic_module_type_module_buffer key) {
  auto* slot = slotOf(f, cb);
  if (src != envoy_dynamic_module_type_metadata_source_Dynamic)
    return nullptr;  // route/cluster/host metadata: none configured
  auto& md = slot->stream->dynamicMetadata();
  auto nit = md.find(std::string(sv(ns)));
  if (nit == md.end()) return nullptr;
  auto kit = nit->second.find(std::string(sv(key)));
  if (kit == nit->second.end()) return nullptr;
  return std::get_if<T>(&kit->second);
}
}  // namespace

EXPORT void envoy_dynamic_module_callback_http_set_dynamic_metadata_number(
    envoy_dynamic_module_type_http_filter_envoy_ptr f, envoy_dynamic_module_type_module_buffer ns,
    envoy_dynamic_module_type_module_buffer key, double v) {
  setMeta(f, "envoy_dynamic_module_callback_http_set_dynamic_metadata_number", ns, key, v);
}
EXPORT void envoy_dynamic_module_callback_http_set_dynamic_metadata_string(
    envoy_dynamic_module_type_http_filter_envoy_ptr f, envoy_dynamic_module_type_module_buffer ns,
    envoy_dynamic_module_type_module_buffer key, envoy_dynamic_module_type_module_buffer v) {
  setMeta(f, "envoy_dynamic_module_callback_http_set_dynamic_metadata_string", ns, key, std::string(sv(v)));
}
EXPORT void envoy_dynamic_module_callback_http_set_dynamic_metadata_bool(
    envoy_dynamic_module_type_http_filter_envoy_ptr f, envoy_dynamic_module_type_module_buffer ns,
    envoy_dynamic_module_type_module_buffer key, bool v) {
  setMeta(f, "envoy_dynamic_module_callback_http_set_dynamic_metadata_bool", ns, key, v);
}
EXPORT bool envoy_dynamic_module_callback_http_get_metadata_number(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                                   envoy_dynamic_module_type_metadata_source src,
                                                                   envoy_dynamic_module_type_module_buffer ns,
                                                                   envoy_dynamic_module_type_module_buffer key,
                                                                   double* out) {
  auto* v = getMeta<double>(f, "envoy_dynamic_module_callback_http_get_metadata_number", src, ns, key);
  if (v) *out = *v;
  return v != nullptr;
}
EXPORT bool envoy_dynamic_module_callback_http_get_metadata_string(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                                   envoy_dynamic_module_type_metadata_source src,
                                                                   envoy_dynamic_module_type_module_buffer ns,
                                                                   envoy_dynamic_module_type_module_buffer key,
                                                                   envoy_dynamic_module_type_envoy_buffer* out) {
  auto* v = getMeta<std::string>(f, "envoy_dynamic_module_callback_http_get_metadata_string", src, ns, key);
  if (v) *out = lendBuf(*v);
  return v != nullptr;
}
EXPORT bool envoy_dynamic_module_callback_http_get_metadata_bool(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                                 envoy_dynamic_module_type_metadata_source src,
                                                                 envoy_dynamic_module_type_module_buffer ns,
                                                                 envoy_dynamic_module_type_module_buffer key,
                                                                 bool* out) {
  auto* v = getMeta<bool>(f, "envoy_dynamic_module_callback_http_get_metadata_bool", src, ns, key);
  if (v) *out = *v;
  return v != nullptr;
}

EXPORT bool envoy_dynamic_module_callback_http_set_filter_state_bytes(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                                      envoy_dynamic_module_type_module_buffer key,
                                                                      envoy_dynamic_module_type_module_buffer value) {
  slotOf(f, "envoy_dynamic_module_callback_http_set_filter_state_bytes")->stream->filterState()[std::string(sv(key))] =
      std::string(sv(value));
  return true;
}

EXPORT bool envoy_dynamic_module_callback_http_get_filter_state_bytes(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                                      envoy_dynamic_module_type_module_buffer key,
                                                                      envoy_dynamic_module_type_envoy_buffer* out) {
  auto& fs = slotOf(f, "envoy_dynamic_module_callback_http_get_filter_state_bytes")->stream->filterState();
  auto it = fs.find(std::string(sv(key)));
  if (it == fs.end()) return false;
  *out = lendBuf(it->second);
  return true;
}

// ---- schedulers ----

EXPORT envoy_dynamic_module_type_http_filter_scheduler_module_ptr
envoy_dynamic_module_callback_http_filter_scheduler_new(envoy_dynamic_module_type_http_filter_envoy_ptr f) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_filter_scheduler_new");
  auto s = std::make_unique<SchedulerHandle>(SchedulerHandle{&slot->stream->worker(), slot->alive, slot});
  return s.release();  // module-owned until scheduler_delete
}

EXPORT void envoy_dynamic_module_callback_http_filter_scheduler_commit(
    envoy_dynamic_module_type_http_filter_scheduler_module_ptr p, uint64_t event_id) {
  auto* s = static_cast<SchedulerHandle*>(p);
  // Any thread. The event is dropped if the filter is destroyed before it runs. A filter already
  // gone needs no post at all (its worker may be shutting down).
  if (s->alive.expired()) return;
  s->worker->post([alive = s->alive, slot = s->slot, event_id] {
    if (!alive.lock()) return;
    slot->stream->onScheduled(slot, event_id);
  });
}

EXPORT void envoy_dynamic_module_callback_http_filter_scheduler_delete(
    envoy_dynamic_module_type_http_filter_scheduler_module_ptr p) {
  std::unique_ptr<SchedulerHandle> owned(static_cast<SchedulerHandle*>(p));
}

namespace host {
// Posts to the main thread's loop (set up by main.cc).
void postToMain(std::function<void()> fn);
}  // namespace host

namespace {
struct ConfigScheduler {
  FilterConfig* config;
  std::shared_ptr<char> alive;
};
}  // namespace

EXPORT envoy_dynamic_module_type_http_filter_config_scheduler_module_ptr
envoy_dynamic_module_callback_http_filter_config_scheduler_new(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr c) {
  auto s = std::make_unique<ConfigScheduler>(
      ConfigScheduler{configOf(c, "envoy_dynamic_module_callback_http_filter_config_scheduler_new"), nullptr});
  return s.release();
}

EXPORT void envoy_dynamic_module_callback_http_filter_config_scheduler_delete(
    envoy_dynamic_module_type_http_filter_config_scheduler_module_ptr p) {
  std::unique_ptr<ConfigScheduler> owned(static_cast<ConfigScheduler*>(p));
}

EXPORT void envoy_dynamic_module_callback_http_filter_config_scheduler_commit(
    envoy_dynamic_module_type_http_filter_config_scheduler_module_ptr p, uint64_t event_id) {
  auto* cfg = static_cast<ConfigScheduler*>(p)->config;
  postToMain([cfg, event_id] {
    if (cfg->hooks().config_scheduled) cfg->hooks().config_scheduled(cfg, cfg->moduleConfig(), event_id);
  });
}

// ---- callouts ----

EXPORT envoy_dynamic_module_type_http_callout_init_result envoy_dynamic_module_callback_http_filter_http_callout(
    envoy_dynamic_module_type_http_filter_envoy_ptr f, uint64_t* id, envoy_dynamic_module_type_module_buffer cluster,
    envoy_dynamic_module_type_module_http_header* headers, size_t n, envoy_dynamic_module_type_module_buffer body,
    uint64_t timeout_ms) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_filter_http_callout");
  HeaderMap h(HeaderKind::RequestHeaders);  // so "host" is ":authority", as in Envoy's request map
  for (size_t i = 0; i < n; i++) {
    std::string_view k(headers[i].key_ptr, headers[i].key_length), v(headers[i].value_ptr, headers[i].value_length);
    checkHeaderBytes(k, "envoy_dynamic_module_callback_http_filter_http_callout");
    checkHeaderBytes(v, "envoy_dynamic_module_callback_http_filter_http_callout");
    h.add(k, v);
  }
  return slot->stream->startCallout(slot, id, std::string(sv(cluster)), std::move(h), std::string(sv(body)),
                                    timeout_ms);
}

EXPORT envoy_dynamic_module_type_http_callout_init_result envoy_dynamic_module_callback_http_filter_start_http_stream(
    envoy_dynamic_module_type_http_filter_envoy_ptr f, uint64_t*, envoy_dynamic_module_type_module_buffer,
    envoy_dynamic_module_type_module_http_header*, size_t, envoy_dynamic_module_type_module_buffer, bool, uint64_t) {
  slotOf(f, "envoy_dynamic_module_callback_http_filter_start_http_stream");
  return envoy_dynamic_module_type_http_callout_init_result_CannotCreateRequest;  // streaming callouts: not in the host
                                                                                  // yet
}

EXPORT void envoy_dynamic_module_callback_http_filter_reset_http_stream(
    envoy_dynamic_module_type_http_filter_envoy_ptr f, uint64_t) {
  slotOf(f, "envoy_dynamic_module_callback_http_filter_reset_http_stream");
}

EXPORT bool envoy_dynamic_module_callback_http_stream_send_data(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                                uint64_t, envoy_dynamic_module_type_module_buffer,
                                                                bool) {
  slotOf(f, "envoy_dynamic_module_callback_http_stream_send_data");
  return false;
}

EXPORT bool envoy_dynamic_module_callback_http_stream_send_trailers(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                                    uint64_t,
                                                                    envoy_dynamic_module_type_module_http_header*,
                                                                    size_t) {
  slotOf(f, "envoy_dynamic_module_callback_http_stream_send_trailers");
  return false;
}

EXPORT envoy_dynamic_module_type_http_callout_init_result envoy_dynamic_module_callback_http_filter_config_http_callout(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr c, uint64_t*, envoy_dynamic_module_type_module_buffer,
    envoy_dynamic_module_type_module_http_header*, size_t, envoy_dynamic_module_type_module_buffer, uint64_t) {
  configOf(c, "envoy_dynamic_module_callback_http_filter_config_http_callout");
  return envoy_dynamic_module_type_http_callout_init_result_CannotCreateRequest;  // config-level callouts: not in the
                                                                                  // host yet
}

// ---- stream control ----

EXPORT void envoy_dynamic_module_callback_http_filter_continue_decoding(
    envoy_dynamic_module_type_http_filter_envoy_ptr f) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_filter_continue_decoding");
  slot->stream->continueIteration(Dir::Decode, slot);
}

EXPORT void envoy_dynamic_module_callback_http_filter_continue_encoding(
    envoy_dynamic_module_type_http_filter_envoy_ptr f) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_filter_continue_encoding");
  slot->stream->continueIteration(Dir::Encode, slot);
}

EXPORT void envoy_dynamic_module_callback_http_filter_reset_stream(
    envoy_dynamic_module_type_http_filter_envoy_ptr f, envoy_dynamic_module_type_http_filter_stream_reset_reason,
    envoy_dynamic_module_type_module_buffer details) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_http_filter_reset_stream");
  std::string d(sv(details));
  slot->stream->resetStream(d.empty() ? "dynamic_module_reset" : d);
}

// ---- routing / misc ----

EXPORT void envoy_dynamic_module_callback_http_clear_route_cache(envoy_dynamic_module_type_http_filter_envoy_ptr f) {
  slotOf(f, "envoy_dynamic_module_callback_http_clear_route_cache")->stream->clearRouteCache();
}

EXPORT void envoy_dynamic_module_callback_http_clear_route_cluster_cache(
    envoy_dynamic_module_type_http_filter_envoy_ptr f) {
  slotOf(f, "envoy_dynamic_module_callback_http_clear_route_cluster_cache")->stream->clearRouteCache();
}

EXPORT envoy_dynamic_module_type_http_filter_per_route_config_module_ptr
envoy_dynamic_module_callback_get_most_specific_route_config(envoy_dynamic_module_type_http_filter_envoy_ptr f) {
  auto* slot = slotOf(f, "envoy_dynamic_module_callback_get_most_specific_route_config");
  const PerRouteConfig* c = slot->stream->perRouteConfig(slot);
  return c ? c->modulePtr() : nullptr;
}

EXPORT uint32_t
envoy_dynamic_module_callback_http_filter_get_worker_index(envoy_dynamic_module_type_http_filter_envoy_ptr f) {
  return slotOf(f, "envoy_dynamic_module_callback_http_filter_get_worker_index")->stream->worker().index();
}

EXPORT bool envoy_dynamic_module_callback_http_get_cluster_name(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                                envoy_dynamic_module_type_envoy_buffer* out) {
  auto v = slotOf(f, "envoy_dynamic_module_callback_http_get_cluster_name")
               ->stream->attributeString(envoy_dynamic_module_type_attribute_id_XdsClusterName);
  if (!v) return false;
  *out = lendTemp(*v);
  return true;
}

EXPORT bool envoy_dynamic_module_callback_http_set_upstream_override_host(
    envoy_dynamic_module_type_http_filter_envoy_ptr f, envoy_dynamic_module_type_module_buffer host, bool strict) {
  return slotOf(f, "envoy_dynamic_module_callback_http_set_upstream_override_host")
      ->stream->setUpstreamOverrideHost(sv(host), strict);
}

EXPORT void envoy_dynamic_module_callback_http_add_custom_flag(envoy_dynamic_module_type_http_filter_envoy_ptr f,
                                                               envoy_dynamic_module_type_module_buffer) {
  slotOf(f, "envoy_dynamic_module_callback_http_add_custom_flag");
}

// ---- attributes ----

EXPORT bool envoy_dynamic_module_callback_http_filter_get_attribute_string(
    envoy_dynamic_module_type_http_filter_envoy_ptr f, envoy_dynamic_module_type_attribute_id id,
    envoy_dynamic_module_type_envoy_buffer* out) {
  auto v = slotOf(f, "envoy_dynamic_module_callback_http_filter_get_attribute_string")->stream->attributeString(id);
  if (!v) return false;
  *out = lendTemp(*v);
  return true;
}

EXPORT bool envoy_dynamic_module_callback_http_filter_get_attribute_int(
    envoy_dynamic_module_type_http_filter_envoy_ptr f, envoy_dynamic_module_type_attribute_id id, uint64_t* out) {
  auto v = slotOf(f, "envoy_dynamic_module_callback_http_filter_get_attribute_int")->stream->attributeInt(id);
  if (!v) return false;
  *out = *v;
  return true;
}

EXPORT bool envoy_dynamic_module_callback_http_filter_get_attribute_bool(
    envoy_dynamic_module_type_http_filter_envoy_ptr f, envoy_dynamic_module_type_attribute_id, bool*) {
  slotOf(f, "envoy_dynamic_module_callback_http_filter_get_attribute_bool");
  return false;
}
