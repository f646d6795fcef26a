// The native side of the functions declared in native/binding.spec.json. Arguments arrive checked and
// converted by the generated glue; these only talk to Envoy for the stream JS names by id.
#include <string>
#include <vector>

#include "envoy-filter/envoy_abi.h"
#include "envoy-filter/filter_config.h"
#include "envoy-filter/js_env.h"
#include "envoy-filter/log.h"
#include "envoy-filter/module_buffer.h"
#include "envoy-filter/stream_filter.h"
#include "envoy-filter/v8_values.h"
#include "native/generated/binding.gen.h"

namespace nodevoy::binding {

namespace {

// The live stream JS named, or null with a TypeError pending on the caller's stack.
StreamFilter* live(const Napi::CallbackInfo& info, uint32_t id, uint32_t kind) {
  JsEnv* env = JsEnv::from(info.Env());
  StreamFilter* s = env ? env->stream(id) : nullptr;
  if (!s || s->completed()) {
    Napi::Error e = Napi::Error::New(info.Env(), "nodevoy: the stream has already completed");
    e.Set("code", Napi::String::New(info.Env(), "ERR_NODEVOY_STREAM_CLOSED"));
    e.ThrowAsJavaScriptException();
    return nullptr;
  }
  if (kind > 3) {
    Napi::RangeError::New(info.Env(), "nodevoy: header kind must be 0..3, received " + std::to_string(kind))
        .ThrowAsJavaScriptException();
    return nullptr;
  }
  return s;
}

bool wireSafe(const Napi::CallbackInfo& info, const std::string& s) {
  for (char c : s)
    if (c == '\r' || c == '\n' || c == '\0') {
      Napi::TypeError::New(info.Env(), "nodevoy: header names and values must not contain CR, LF or NUL")
          .ThrowAsJavaScriptException();
      return false;
    }
  return true;
}

auto htype(uint32_t kind) {
  return static_cast<envoy_dynamic_module_type_http_header_type>(kind);
}

bool validDirection(const Napi::CallbackInfo& info, uint32_t direction) {
  if (direction <= 1) return true;
  Napi::RangeError::New(info.Env(),
                        "nodevoy: direction must be 0 (request) or 1 (response), received " + std::to_string(direction))
      .ThrowAsJavaScriptException();
  return false;
}

// A call that is not allowed in the stream's current state: an Error with a code JS maps to a typed error.
Napi::Value throwState(const Napi::CallbackInfo& info, const std::string& message) {
  Napi::Error e = Napi::Error::New(info.Env(), "nodevoy: " + message);
  e.Set("code", Napi::String::New(info.Env(), "ERR_NODEVOY_INVALID_STATE"));
  e.ThrowAsJavaScriptException();
  return info.Env().Undefined();
}
}  // namespace

Napi::Value registerApi(const Napi::CallbackInfo& info, Napi::Object api) {
  if (JsEnv* env = JsEnv::from(info.Env())) env->registerApi(api);
  return info.Env().Undefined();
}

Napi::Value getHeader(const Napi::CallbackInfo& info, uint32_t stream, uint32_t kind, std::string name) {
  StreamFilter* s = live(info, stream, kind);
  if (!s) return info.Env().Undefined();
  envoy_dynamic_module_type_envoy_buffer out{nullptr, 0};
  size_t count = 0;
  if (!envoy_dynamic_module_callback_http_get_header(s->envoy(), htype(kind), moduleBuffer(name), &out, 0, &count) ||
      !out.ptr)
    return info.Env().Undefined();
  return Napi::Value(info.Env(), toNapi(headerString(JsEnv::from(info.Env())->isolate(), out.ptr, out.length)));
}

Napi::Value getHeaderValues(const Napi::CallbackInfo& info, uint32_t stream, uint32_t kind, std::string name) {
  StreamFilter* s = live(info, stream, kind);
  Napi::Array out = Napi::Array::New(info.Env());
  if (!s) return out;
  envoy_dynamic_module_type_envoy_buffer v{nullptr, 0};
  size_t count = 0;
  envoy_dynamic_module_callback_http_get_header(s->envoy(), htype(kind), moduleBuffer(name), &v, 0, &count);
  for (size_t i = 0; i < count; i++) {
    if (!envoy_dynamic_module_callback_http_get_header(s->envoy(), htype(kind), moduleBuffer(name), &v, i, nullptr))
      break;
    out.Set(static_cast<uint32_t>(i), Napi::String::New(info.Env(), v.ptr, v.length));
  }
  return out;
}

Napi::Value getHeaders(const Napi::CallbackInfo& info, uint32_t stream, uint32_t kind) {
  StreamFilter* s = live(info, stream, kind);
  Napi::Array out = Napi::Array::New(info.Env());
  if (!s) return out;
  size_t n = envoy_dynamic_module_callback_http_get_headers_size(s->envoy(), htype(kind));
  std::vector<envoy_dynamic_module_type_envoy_http_header> hs(n);
  if (n == 0 || !envoy_dynamic_module_callback_http_get_headers(s->envoy(), htype(kind), hs.data())) return out;
  // One V8 array from all the strings: element-wise napi_set_element was ~2 µs per header.
  v8::Isolate* isolate = JsEnv::from(info.Env())->isolate();
  std::vector<v8::Local<v8::Value>> items;
  items.reserve(2 * n);
  for (size_t i = 0; i < n; i++) {
    items.push_back(headerString(isolate, hs[i].key_ptr, hs[i].key_length));
    items.push_back(headerString(isolate, hs[i].value_ptr, hs[i].value_length));
  }
  return Napi::Value(info.Env(), toNapi(v8::Array::New(isolate, items.data(), items.size())));
}

Napi::Value setHeader(const Napi::CallbackInfo& info, uint32_t stream, uint32_t kind, std::string name,
                      std::string value) {
  StreamFilter* s = live(info, stream, kind);
  if (!s || !wireSafe(info, name) || !wireSafe(info, value)) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), envoy_dynamic_module_callback_http_set_header(
                                            s->envoy(), htype(kind), moduleBuffer(name), moduleBuffer(value)));
}

Napi::Value addHeader(const Napi::CallbackInfo& info, uint32_t stream, uint32_t kind, std::string name,
                      std::string value) {
  StreamFilter* s = live(info, stream, kind);
  if (!s || !wireSafe(info, name) || !wireSafe(info, value)) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), envoy_dynamic_module_callback_http_add_header(
                                            s->envoy(), htype(kind), moduleBuffer(name), moduleBuffer(value)));
}

Napi::Value removeHeader(const Napi::CallbackInfo& info, uint32_t stream, uint32_t kind, std::string name) {
  StreamFilter* s = live(info, stream, kind);
  if (!s || !wireSafe(info, name)) return info.Env().Undefined();
  return Napi::Boolean::New(
      info.Env(), envoy_dynamic_module_callback_http_set_header(s->envoy(), htype(kind), moduleBuffer(name),
                                                                envoy_dynamic_module_type_module_buffer{nullptr, 0}));
}

Napi::Value respond(const Napi::CallbackInfo& info, uint32_t stream, uint32_t status, std::vector<std::string> headers,
                    std::string body, std::string details) {
  StreamFilter* s = live(info, stream, 0);
  if (!s) return info.Env().Undefined();
  if (status < 200 || status > 599) {
    Napi::RangeError::New(info.Env(), "nodevoy: status must be 200..599, received " + std::to_string(status))
        .ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  for (const auto& h : headers)
    if (!wireSafe(info, h)) return info.Env().Undefined();
  s->recordReply(RecordedReply{status, std::move(headers), std::move(body), std::move(details)});
  return info.Env().Undefined();
}

Napi::Value settle(const Napi::CallbackInfo& info, uint32_t stream, uint32_t phase, uint32_t outcome) {
  JsEnv* env = JsEnv::from(info.Env());
  StreamFilter* s = env ? env->stream(stream) : nullptr;
  if (s && phase < kPhaseCount && outcome <= static_cast<uint32_t>(Outcome::Timeout) &&
      outcome != static_cast<uint32_t>(Outcome::Pending))
    s->settle(static_cast<Phase>(phase), static_cast<Outcome>(outcome));
  return info.Env().Undefined();
}

Napi::Value readBody(const Napi::CallbackInfo& info, uint32_t stream, uint32_t direction) {
  StreamFilter* s = live(info, stream, 0);
  if (!s || !validDirection(info, direction)) return info.Env().Undefined();
  std::string error;
  napi_value v = s->readBody(static_cast<int>(direction), &error);
  if (!v) return throwState(info, error);
  return Napi::Value(info.Env(), v);
}

Napi::Value rewriteBody(const Napi::CallbackInfo& info, uint32_t stream, uint32_t direction, uint32_t op,
                        std::string data) {
  StreamFilter* s = live(info, stream, 0);
  if (!s || !validDirection(info, direction)) return info.Env().Undefined();
  if (op > static_cast<uint32_t>(BodyOp::Prepend)) {
    Napi::RangeError::New(info.Env(), "nodevoy: body operation must be 0..2, received " + std::to_string(op))
        .ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  std::string error;
  if (!s->rewriteBody(static_cast<int>(direction), static_cast<BodyOp>(op), data, &error))
    return throwState(info, error);
  return info.Env().Undefined();
}

Napi::Value replaceChunks(const Napi::CallbackInfo& info, uint32_t stream, uint32_t direction, std::string parts) {
  StreamFilter* s = live(info, stream, 0);
  if (!s || !validDirection(info, direction)) return info.Env().Undefined();
  std::string error;
  if (!s->replaceChunks(static_cast<int>(direction), parts, &error)) return throwState(info, error);
  return info.Env().Undefined();
}

Napi::Value metric(const Napi::CallbackInfo& info, uint32_t stream, uint32_t index, uint32_t op,
                   std::vector<std::string> labels, double value) {
  StreamFilter* s = live(info, stream, 0);
  if (!s) return info.Env().Undefined();
  const auto& defs = s->config().metrics();
  if (index >= defs.size() || labels.size() != defs[index].labels || op > 3 || !(value >= 0) ||
      value > 9007199254740991.0) {
    Napi::RangeError::New(info.Env(), "nodevoy: metric call out of range: received index " + std::to_string(index) +
                                          " of " + std::to_string(defs.size()) + ", " + std::to_string(labels.size()) +
                                          " label(s), op " + std::to_string(op) + ", value " + std::to_string(value))
        .ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  std::vector<envoy_dynamic_module_type_module_buffer> ls;
  for (const auto& l : labels) ls.push_back(moduleBuffer(l));
  auto* lp = ls.empty() ? nullptr : ls.data();
  const auto v = static_cast<uint64_t>(value);
  const size_t id = defs[index].envoy_id;
  auto fe = s->envoy();
  switch (defs[index].kind) {
    case MetricKind::Counter:
      envoy_dynamic_module_callback_http_filter_increment_counter(fe, id, lp, ls.size(), v);
      break;
    case MetricKind::Gauge:
      if (op == static_cast<uint32_t>(MetricOp::Subtract))
        envoy_dynamic_module_callback_http_filter_decrement_gauge(fe, id, lp, ls.size(), v);
      else if (op == static_cast<uint32_t>(MetricOp::Set))
        envoy_dynamic_module_callback_http_filter_set_gauge(fe, id, lp, ls.size(), v);
      else
        envoy_dynamic_module_callback_http_filter_increment_gauge(fe, id, lp, ls.size(), v);
      break;
    case MetricKind::Histogram:
      envoy_dynamic_module_callback_http_filter_record_histogram_value(fe, id, lp, ls.size(), v);
      break;
  }
  return info.Env().Undefined();
}

Napi::Value callout(const Napi::CallbackInfo& info, uint32_t stream, std::string cluster,
                    std::vector<std::string> headers, std::string body, uint32_t timeoutMs) {
  StreamFilter* s = live(info, stream, 0);
  if (!s) return info.Env().Undefined();
  for (const auto& h : headers)
    if (!wireSafe(info, h)) return info.Env().Undefined();
  std::vector<envoy_dynamic_module_type_module_http_header> hs;
  for (size_t i = 0; i + 1 < headers.size(); i += 2)
    hs.push_back({headers[i].data(), headers[i].size(), headers[i + 1].data(), headers[i + 1].size()});
  uint64_t id = 0;
  auto r = envoy_dynamic_module_callback_http_filter_http_callout(s->envoy(), &id, moduleBuffer(cluster), hs.data(),
                                                                  hs.size(), moduleBuffer(body), timeoutMs);
  if (r != envoy_dynamic_module_type_http_callout_init_result_Success) {
    static const char* reasons[] = {"success", "the request lacks :method, :path or host", "no such cluster",
                                    "duplicate callout id", "Envoy cannot create the request"};
    const auto i = static_cast<size_t>(r);
    Napi::Error e = Napi::Error::New(info.Env(), "nodevoy: ctx.fetch to cluster \"" + cluster +
                                                     "\" failed: " + (i < 5 ? reasons[i] : "unknown error"));
    e.Set("code", Napi::String::New(info.Env(), "ERR_NODEVOY_FETCH"));
    e.ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

Napi::Value attribute(const Napi::CallbackInfo& info, uint32_t stream, uint32_t id, uint32_t type) {
  StreamFilter* s = live(info, stream, 0);
  if (!s) return info.Env().Undefined();
  if (id > envoy_dynamic_module_type_attribute_id_HealthCheck) {
    Napi::RangeError::New(info.Env(), "nodevoy: attribute id must be 0.." +
                                          std::to_string(envoy_dynamic_module_type_attribute_id_HealthCheck) +
                                          ", received " + std::to_string(id))
        .ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  auto aid = static_cast<envoy_dynamic_module_type_attribute_id>(id);
  if (type == static_cast<uint32_t>(AttributeType::Integer)) {
    uint64_t v = 0;
    if (!envoy_dynamic_module_callback_http_filter_get_attribute_int(s->envoy(), aid, &v))
      return info.Env().Undefined();
    return Napi::Number::New(info.Env(), static_cast<double>(v));
  }
  if (type == static_cast<uint32_t>(AttributeType::Boolean)) {
    bool v = false;
    if (!envoy_dynamic_module_callback_http_filter_get_attribute_bool(s->envoy(), aid, &v))
      return info.Env().Undefined();
    return Napi::Boolean::New(info.Env(), v);
  }
  envoy_dynamic_module_type_envoy_buffer v{nullptr, 0};
  if (!envoy_dynamic_module_callback_http_filter_get_attribute_string(s->envoy(), aid, &v) || !v.ptr)
    return info.Env().Undefined();
  return Napi::String::New(info.Env(), v.ptr, v.length);
}

Napi::Value getMetadata(const Napi::CallbackInfo& info, uint32_t stream, uint32_t source, std::string ns,
                        std::string key) {
  StreamFilter* s = live(info, stream, 0);
  if (!s) return info.Env().Undefined();
  if (source > envoy_dynamic_module_type_metadata_source_HostLocality) {
    Napi::RangeError::New(info.Env(), "nodevoy: metadata source must be 0.." +
                                          std::to_string(envoy_dynamic_module_type_metadata_source_HostLocality) +
                                          ", received " + std::to_string(source))
        .ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  auto src = static_cast<envoy_dynamic_module_type_metadata_source>(source);
  double n = 0;
  if (envoy_dynamic_module_callback_http_get_metadata_number(s->envoy(), src, moduleBuffer(ns), moduleBuffer(key), &n))
    return Napi::Number::New(info.Env(), n);
  envoy_dynamic_module_type_envoy_buffer str{nullptr, 0};
  if (envoy_dynamic_module_callback_http_get_metadata_string(s->envoy(), src, moduleBuffer(ns), moduleBuffer(key),
                                                             &str))
    return Napi::String::New(info.Env(), str.ptr ? str.ptr : "", str.length);
  bool b = false;
  if (envoy_dynamic_module_callback_http_get_metadata_bool(s->envoy(), src, moduleBuffer(ns), moduleBuffer(key), &b))
    return Napi::Boolean::New(info.Env(), b);
  return info.Env().Undefined();
}

Napi::Value setMetadata(const Napi::CallbackInfo& info, uint32_t stream, std::string ns, std::string key,
                        Napi::Value value) {
  StreamFilter* s = live(info, stream, 0);
  if (!s) return info.Env().Undefined();
  if (value.IsNumber()) {
    envoy_dynamic_module_callback_http_set_dynamic_metadata_number(s->envoy(), moduleBuffer(ns), moduleBuffer(key),
                                                                   value.As<Napi::Number>().DoubleValue());
  } else if (value.IsBoolean()) {
    envoy_dynamic_module_callback_http_set_dynamic_metadata_bool(s->envoy(), moduleBuffer(ns), moduleBuffer(key),
                                                                 value.As<Napi::Boolean>().Value());
  } else {
    std::string v = value.As<Napi::String>().Utf8Value();
    envoy_dynamic_module_callback_http_set_dynamic_metadata_string(s->envoy(), moduleBuffer(ns), moduleBuffer(key),
                                                                   moduleBuffer(v));
  }
  return info.Env().Undefined();
}

Napi::Value getFilterState(const Napi::CallbackInfo& info, uint32_t stream, std::string key) {
  StreamFilter* s = live(info, stream, 0);
  if (!s) return info.Env().Undefined();
  envoy_dynamic_module_type_envoy_buffer v{nullptr, 0};
  if (!envoy_dynamic_module_callback_http_get_filter_state_bytes(s->envoy(), moduleBuffer(key), &v))
    return info.Env().Undefined();
  return Napi::String::New(info.Env(), v.ptr ? v.ptr : "", v.length);
}

Napi::Value setFilterState(const Napi::CallbackInfo& info, uint32_t stream, std::string key, std::string value) {
  StreamFilter* s = live(info, stream, 0);
  if (!s) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), envoy_dynamic_module_callback_http_set_filter_state_bytes(
                                            s->envoy(), moduleBuffer(key), moduleBuffer(value)));
}

Napi::Value clearRouteCache(const Napi::CallbackInfo& info, uint32_t stream) {
  if (StreamFilter* s = live(info, stream, 0)) envoy_dynamic_module_callback_http_clear_route_cache(s->envoy());
  return info.Env().Undefined();
}

Napi::Value setUpstreamOverrideHost(const Napi::CallbackInfo& info, uint32_t stream, std::string host, bool strict) {
  StreamFilter* s = live(info, stream, 0);
  if (!s) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), envoy_dynamic_module_callback_http_set_upstream_override_host(
                                            s->envoy(), moduleBuffer(host), strict));
}

Napi::Value log(const Napi::CallbackInfo& info, uint32_t level, std::string message) {
  if (level <= envoy_dynamic_module_type_log_level_Critical)
    nodevoy::log(static_cast<envoy_dynamic_module_type_log_level>(level), message);
  return info.Env().Undefined();
}

Napi::Value logEnabled(const Napi::CallbackInfo& info, uint32_t level) {
  return Napi::Boolean::New(info.Env(),
                            level <= envoy_dynamic_module_type_log_level_Critical &&
                                nodevoy::logEnabled(static_cast<envoy_dynamic_module_type_log_level>(level)));
}

Napi::Value watchClose(const Napi::CallbackInfo& info, uint32_t stream) {
  JsEnv* env = JsEnv::from(info.Env());
  if (StreamFilter* s = env ? env->stream(stream) : nullptr) s->watchClose();
  return info.Env().Undefined();
}

Napi::Value bytesCopiedToJs(const Napi::CallbackInfo& info) {
  JsEnv* env = JsEnv::from(info.Env());
  return Napi::Number::New(info.Env(), env ? static_cast<double>(env->bytesCopiedToJs()) : 0);
}

Napi::Value workerIndex(const Napi::CallbackInfo& info) {
  JsEnv* env = JsEnv::from(info.Env());
  return Napi::Number::New(info.Env(), env ? env->workerIndex() : -1);
}

}  // namespace nodevoy::binding
