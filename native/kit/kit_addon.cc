// The addon's entry points: attach() makes the environment and hands back the NativeBinding; every other
// export is one of Envoy's calls into the module (config_new, filter_new, the stream hooks...), queued and
// run from a libuv callback. There no JS is on the stack, so each call the module makes into JS is the
// outermost one and drains microtasks and process.nextTick callbacks as it returns, as inside Envoy. Each
// returns a promise of what the module returned, settled in the caller's async context.
#include <uv.h>

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "envoy-filter/envoy_abi.h"
#include "envoy-filter/js_env.h"
#include "native/generated/enums.gen.h"
#include "native/kit/kit.h"

namespace nodevoy::kit {
namespace {

struct Operation {
  std::function<napi_value(napi_env)> run;
  napi_deferred deferred = nullptr;
  napi_async_context context = nullptr;
  double owner = 0;
};

napi_env g_env = nullptr;
JsEnv* g_js = nullptr;
std::deque<Operation> g_queue;
uv_async_t g_wake;

napi_value number(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

double pointerNumber(const void* p) {
  return static_cast<double>(reinterpret_cast<uintptr_t>(p));
}

template <typename T>
T pointerOf(double v) {
  return reinterpret_cast<T>(static_cast<uintptr_t>(v));
}

void runQueued(uv_async_t*) {
  while (!g_queue.empty()) {
    Operation op = std::move(g_queue.front());
    g_queue.pop_front();
    napi_handle_scope scope;
    napi_open_handle_scope(g_env, &scope);
    releaseKept();
    setOwner(op.owner);
    g_js->useAsyncContext(op.context);
    napi_value result = op.run(g_env);
    g_js->useAsyncContext(nullptr);
    setOwner(0);
    napi_value error = takeError();
    // Settled in a callback scope of the caller's context: the awaiting code continues as it closes.
    napi_value resource;
    napi_create_object(g_env, &resource);
    napi_callback_scope callback_scope;
    napi_open_callback_scope(g_env, resource, op.context, &callback_scope);
    if (error)
      napi_reject_deferred(g_env, op.deferred, error);
    else
      napi_resolve_deferred(g_env, op.deferred, result);
    napi_close_callback_scope(g_env, callback_scope);
    napi_async_destroy(g_env, op.context);
    napi_close_handle_scope(g_env, scope);
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(&g_wake));  // nothing queued: the addon keeps no test process alive
}

napi_value enqueue(napi_env env, double owner, std::function<napi_value(napi_env)> run) {
  Operation op;
  napi_value promise, name;
  napi_create_promise(env, &op.deferred, &promise);
  napi_create_string_utf8(env, "nodevoy.testing", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, nullptr, name, &op.context);  // captures the caller's async context
  op.owner = owner;
  op.run = std::move(run);
  g_queue.push_back(std::move(op));
  uv_ref(reinterpret_cast<uv_handle_t*>(&g_wake));
  uv_async_send(&g_wake);
  return promise;
}

// ---- argument helpers (the kit's own calls: lib/testing/native.ts types them) ----

struct Args {
  napi_env env;
  std::vector<napi_value> v;
  Args(napi_env e, napi_callback_info info) : env(e) {
    size_t argc = 8;
    v.resize(argc);
    napi_get_cb_info(e, info, &argc, v.data(), nullptr, nullptr);
    v.resize(argc);
    while (v.size() < 8) {
      napi_value u;
      napi_get_undefined(e, &u);
      v.push_back(u);
    }
  }
  double num(size_t i) const {
    double out = 0;
    napi_get_value_double(env, v[i], &out);
    return out;
  }
  std::string str(size_t i) const {
    size_t n = 0;
    napi_get_value_string_utf8(env, v[i], nullptr, 0, &n);
    std::string out(n, '\0');
    napi_get_value_string_utf8(env, v[i], out.data(), n + 1, &n);
    return out;
  }
  std::string bytes(size_t i) const {
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    if (napi_get_typedarray_info(env, v[i], &type, &length, &data, nullptr, nullptr) != napi_ok) return {};
    return std::string(static_cast<const char*>(data), length);
  }
  std::vector<std::string> strings(size_t i) const {
    uint32_t n = 0;
    napi_get_array_length(env, v[i], &n);
    std::vector<std::string> out;
    for (uint32_t k = 0; k < n; k++) {
      napi_value e;
      napi_get_element(env, v[i], k, &e);
      size_t len = 0;
      napi_get_value_string_utf8(env, e, nullptr, 0, &len);
      std::string s(len, '\0');
      napi_get_value_string_utf8(env, e, s.data(), len + 1, &len);
      out.push_back(std::move(s));
    }
    return out;
  }
};

envoy_dynamic_module_type_envoy_buffer buffer(const std::string& s) {
  return {s.data(), s.size()};
}

// attach(fake) -> NativeBinding
napi_value attach(napi_env env, napi_callback_info info) {
  Args a(env, info);
  setFake(env, a.v[0]);
  napi_value binding;
  g_js = JsEnv::attach(env, &binding);
  return binding;
}

// configNew(owner, filterName, json) -> Promise<config pointer, 0 if rejected>; owner is the config's envoy pointer.
napi_value configNew(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const double owner = a.num(0);
  return enqueue(env, owner, [owner, name = a.str(1), json = a.str(2)](napi_env e) {
    return number(
        e, pointerNumber(envoy_dynamic_module_on_http_filter_config_new(
               pointerOf<envoy_dynamic_module_type_http_filter_config_envoy_ptr>(owner), buffer(name), buffer(json))));
  });
}

// configDestroy(owner, config) and routeConfigDestroy(owner, routeConfig) -> Promise<undefined>
template <typename Ptr, void (*Destroy)(Ptr)>
napi_value destroyCall(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return enqueue(env, a.num(0), [ptr = a.num(1)](napi_env e) {
    Destroy(pointerOf<Ptr>(ptr));
    napi_value u;
    napi_get_undefined(e, &u);
    return u;
  });
}
constexpr auto configDestroy = destroyCall<envoy_dynamic_module_type_http_filter_config_module_ptr,
                                           &envoy_dynamic_module_on_http_filter_config_destroy>;
constexpr auto routeConfigDestroy = destroyCall<envoy_dynamic_module_type_http_filter_per_route_config_module_ptr,
                                                &envoy_dynamic_module_on_http_filter_per_route_config_destroy>;

// routeConfigNew(owner, filterName, json) -> Promise<per-route config pointer, 0 if rejected>
napi_value routeConfigNew(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return enqueue(env, a.num(0), [name = a.str(1), json = a.str(2)](napi_env e) {
    return number(e,
                  pointerNumber(envoy_dynamic_module_on_http_filter_per_route_config_new(buffer(name), buffer(json))));
  });
}

// filterNew(owner, config, stream) -> Promise<filter pointer>; stream is the filter's envoy pointer.
napi_value filterNew(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return enqueue(env, a.num(0), [config = a.num(1), stream = a.num(2)](napi_env e) {
    return number(e, pointerNumber(envoy_dynamic_module_on_http_filter_new(
                         pointerOf<envoy_dynamic_module_type_http_filter_config_module_ptr>(config),
                         pointerOf<envoy_dynamic_module_type_http_filter_envoy_ptr>(stream))));
  });
}

// stream(owner, filter, stream, event, arg) -> Promise<the hook's status (0 for hooks without one)>;
// arg is end_stream for headers and bodies, the event id for Scheduled.
napi_value streamEvent(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const auto event = static_cast<KitEvent>(static_cast<int>(a.num(3)));
  const double arg = a.num(4);
  return enqueue(env, a.num(0), [filter = a.num(1), stream = a.num(2), event, arg](napi_env e) {
    auto f = pointerOf<envoy_dynamic_module_type_http_filter_module_ptr>(filter);
    auto s = pointerOf<envoy_dynamic_module_type_http_filter_envoy_ptr>(stream);
    const bool end = arg != 0;
    int status = 0;
    switch (event) {
      case KitEvent::RequestHeaders:
        status = envoy_dynamic_module_on_http_filter_request_headers(s, f, end);
        break;
      case KitEvent::RequestBody:
        status = envoy_dynamic_module_on_http_filter_request_body(s, f, end);
        break;
      case KitEvent::RequestTrailers:
        status = envoy_dynamic_module_on_http_filter_request_trailers(s, f);
        break;
      case KitEvent::ResponseHeaders:
        status = envoy_dynamic_module_on_http_filter_response_headers(s, f, end);
        break;
      case KitEvent::ResponseBody:
        status = envoy_dynamic_module_on_http_filter_response_body(s, f, end);
        break;
      case KitEvent::ResponseTrailers:
        status = envoy_dynamic_module_on_http_filter_response_trailers(s, f);
        break;
      case KitEvent::Complete:
        envoy_dynamic_module_on_http_filter_stream_complete(s, f);
        break;
      case KitEvent::Destroy:
        envoy_dynamic_module_on_http_filter_destroy(f);
        break;
      case KitEvent::Scheduled:
        envoy_dynamic_module_on_http_filter_scheduled(s, f, static_cast<uint64_t>(arg));
        break;
    }
    return number(e, status);
  });
}

// calloutDone(owner, filter, stream, id, result, flatHeaders, body) -> Promise<undefined>
napi_value calloutDone(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return enqueue(env, a.num(0),
                 [filter = a.num(1), stream = a.num(2), id = a.num(3), result = a.num(4), flat = a.strings(5),
                  body = a.bytes(6)](napi_env e) {
                   std::vector<envoy_dynamic_module_type_envoy_http_header> headers;
                   for (size_t i = 0; i + 1 < flat.size(); i += 2)
                     headers.push_back({flat[i].data(), flat[i].size(), flat[i + 1].data(), flat[i + 1].size()});
                   envoy_dynamic_module_type_envoy_buffer chunk{body.data(), body.size()};
                   envoy_dynamic_module_on_http_filter_http_callout_done(
                       pointerOf<envoy_dynamic_module_type_http_filter_envoy_ptr>(stream),
                       pointerOf<envoy_dynamic_module_type_http_filter_module_ptr>(filter), static_cast<uint64_t>(id),
                       static_cast<envoy_dynamic_module_type_http_callout_result>(static_cast<int>(result)),
                       headers.data(), headers.size(), body.empty() ? nullptr : &chunk, body.empty() ? 0 : 1);
                   napi_value u;
                   napi_get_undefined(e, &u);
                   return u;
                 });
}

napi_value init(napi_env env, napi_value exports) {
  g_env = env;
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  uv_async_init(loop, &g_wake, runQueued);
  uv_unref(reinterpret_cast<uv_handle_t*>(&g_wake));
  const napi_property_descriptor fns[] = {
      {"attach", nullptr, attach, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"configNew", nullptr, configNew, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"configDestroy", nullptr, configDestroy, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"routeConfigNew", nullptr, routeConfigNew, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"routeConfigDestroy", nullptr, routeConfigDestroy, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"filterNew", nullptr, filterNew, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"streamEvent", nullptr, streamEvent, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"calloutDone", nullptr, calloutDone, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  return exports;
}

}  // namespace
}  // namespace nodevoy::kit

NAPI_MODULE(NODE_GYP_MODULE_NAME, nodevoy::kit::init)
