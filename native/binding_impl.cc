// The native side of the functions declared in native/binding.spec.json. Arguments arrive checked and
// converted by the generated glue; these only talk to Envoy for the stream JS names by id.
#include <string>
#include <vector>

#include "envoy-filter/envoy_abi.h"
#include "envoy-filter/js_env.h"
#include "envoy-filter/log.h"
#include "envoy-filter/module_buffer.h"
#include "envoy-filter/stream_filter.h"
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
    Napi::RangeError::New(info.Env(), "nodevoy: header kind out of range").ThrowAsJavaScriptException();
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

auto htype(uint32_t kind) { return static_cast<envoy_dynamic_module_type_http_header_type>(kind); }
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
  if (!envoy_dynamic_module_callback_http_get_header(s->envoy(), htype(kind), moduleBuffer(name), &out, 0, &count) || !out.ptr)
    return info.Env().Undefined();
  return Napi::String::New(info.Env(), out.ptr, out.length);
}

Napi::Value getHeaderValues(const Napi::CallbackInfo& info, uint32_t stream, uint32_t kind, std::string name) {
  StreamFilter* s = live(info, stream, kind);
  Napi::Array out = Napi::Array::New(info.Env());
  if (!s) return out;
  envoy_dynamic_module_type_envoy_buffer v{nullptr, 0};
  size_t count = 0;
  envoy_dynamic_module_callback_http_get_header(s->envoy(), htype(kind), moduleBuffer(name), &v, 0, &count);
  for (size_t i = 0; i < count; i++) {
    if (!envoy_dynamic_module_callback_http_get_header(s->envoy(), htype(kind), moduleBuffer(name), &v, i, nullptr)) break;
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
  for (size_t i = 0; i < n; i++) {
    out.Set(static_cast<uint32_t>(2 * i), Napi::String::New(info.Env(), hs[i].key_ptr, hs[i].key_length));
    out.Set(static_cast<uint32_t>(2 * i + 1), Napi::String::New(info.Env(), hs[i].value_ptr, hs[i].value_length));
  }
  return out;
}

Napi::Value setHeader(const Napi::CallbackInfo& info, uint32_t stream, uint32_t kind, std::string name, std::string value) {
  StreamFilter* s = live(info, stream, kind);
  if (!s || !wireSafe(info, name) || !wireSafe(info, value)) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), envoy_dynamic_module_callback_http_set_header(s->envoy(), htype(kind), moduleBuffer(name), moduleBuffer(value)));
}

Napi::Value addHeader(const Napi::CallbackInfo& info, uint32_t stream, uint32_t kind, std::string name, std::string value) {
  StreamFilter* s = live(info, stream, kind);
  if (!s || !wireSafe(info, name) || !wireSafe(info, value)) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), envoy_dynamic_module_callback_http_add_header(s->envoy(), htype(kind), moduleBuffer(name), moduleBuffer(value)));
}

Napi::Value removeHeader(const Napi::CallbackInfo& info, uint32_t stream, uint32_t kind, std::string name) {
  StreamFilter* s = live(info, stream, kind);
  if (!s || !wireSafe(info, name)) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), envoy_dynamic_module_callback_http_set_header(
                                            s->envoy(), htype(kind), moduleBuffer(name), envoy_dynamic_module_type_module_buffer{nullptr, 0}));
}

Napi::Value respond(const Napi::CallbackInfo& info, uint32_t stream, uint32_t status, std::vector<std::string> headers,
                    std::string body, std::string details) {
  StreamFilter* s = live(info, stream, 0);
  if (!s) return info.Env().Undefined();
  if (status < 200 || status > 599) {
    Napi::RangeError::New(info.Env(), "nodevoy: status must be 200..599").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  for (const auto& h : headers)
    if (!wireSafe(info, h)) return info.Env().Undefined();
  s->recordReply(RecordedReply{status, std::move(headers), std::move(body), std::move(details)});
  return info.Env().Undefined();
}

Napi::Value settle(const Napi::CallbackInfo& info, uint32_t stream, uint32_t outcome) {
  JsEnv* env = JsEnv::from(info.Env());
  StreamFilter* s = env ? env->stream(stream) : nullptr;
  if (s && outcome <= static_cast<uint32_t>(Outcome::Failed)) s->settle(static_cast<Outcome>(outcome));
  return info.Env().Undefined();
}

Napi::Value log(const Napi::CallbackInfo& info, uint32_t level, std::string message) {
  if (level <= envoy_dynamic_module_type_log_level_Critical)
    nodevoy::log(static_cast<envoy_dynamic_module_type_log_level>(level), message);
  return info.Env().Undefined();
}

Napi::Value logEnabled(const Napi::CallbackInfo& info, uint32_t level) {
  return Napi::Boolean::New(info.Env(), level <= envoy_dynamic_module_type_log_level_Critical &&
                                            nodevoy::logEnabled(static_cast<envoy_dynamic_module_type_log_level>(level)));
}

Napi::Value workerIndex(const Napi::CallbackInfo& info) {
  JsEnv* env = JsEnv::from(info.Env());
  return Napi::Number::New(info.Env(), env ? env->workerIndex() : -1);
}

}  // namespace nodevoy::binding
