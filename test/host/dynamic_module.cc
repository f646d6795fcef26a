#include "dynamic_module.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>

#include "log.h"

namespace host {

DynamicModule::~DynamicModule() {
  if (handle_) dlclose(handle_);
}

void* DynamicModule::symbol(const char* name) const {
  return dlsym(handle_, name);
}

namespace {
std::mutex g_modules_mutex;
std::map<std::string, std::weak_ptr<DynamicModule>> g_modules;

std::shared_ptr<DynamicModule> openAt(const std::string& path, const DynamicModuleRef& ref) {
  std::lock_guard lock(g_modules_mutex);
  if (auto it = g_modules.find(path); it != g_modules.end())
    if (auto m = it->second.lock()) return m;
  // Already resident (e.g. do_not_close from an earlier config): reuse, and do not run init again.
  if (void* h = dlopen(path.c_str(), RTLD_NOLOAD | RTLD_NOW)) {
    auto m = std::make_shared<DynamicModule>(h, path);
    g_modules[path] = m;
    return m;
  }
  int mode = RTLD_NOW | (ref.load_globally ? RTLD_GLOBAL : RTLD_LOCAL);
  if (ref.do_not_close) mode |= RTLD_NODELETE;
  void* h = dlopen(path.c_str(), mode);
  if (!h) throw std::runtime_error("Unable to load dynamic module " + ref.name + ": " + dlerror());
  auto m = std::make_shared<DynamicModule>(h, path);
  auto init = reinterpret_cast<nodevoy_on_program_init_fn>(m->symbol("envoy_dynamic_module_on_program_init"));
  if (!init)
    throw std::runtime_error("Unable to load dynamic module " + ref.name +
                             ": symbol envoy_dynamic_module_on_program_init not found");
  const char* version = init();
  if (!version)
    throw std::runtime_error("Unable to load dynamic module " + ref.name + ": on_program_init returned NULL");
  const std::string v(version);  // copied at once, as Envoy 1.40 does
  if (v == NODEVOY_ENVOY_ABI_VERSION)
    logLine(LogLevel::Info, "dynamic_modules", "loaded dynamic module " + path + " (ABI " + v + ")");
  else
    logLine(LogLevel::Warn, "dynamic_modules",
            "Dynamic module ABI version " + v + " is deprecated or unknown; host speaks " NODEVOY_ENVOY_ABI_VERSION);
  g_modules[path] = m;
  return m;
}
}  // namespace

std::shared_ptr<DynamicModule> loadDynamicModule(const DynamicModuleRef& ref) {
  const char* sp = std::getenv("ENVOY_DYNAMIC_MODULES_SEARCH_PATH");
  std::string dir = sp && *sp ? sp : ".";
  std::string candidate = dir + "/lib" + ref.name + ".so";
  if (char* real = realpath(candidate.c_str(), nullptr)) {
    std::string abs(real);
    free(real);
    return openAt(abs, ref);  // found on the search path: its result, error included, is final
  }
  return openAt("lib" + ref.name + ".so", ref);  // then the default library path
}

namespace {
template <typename T>
void need(const DynamicModule& m, T& slot, const char* name) {
  slot = reinterpret_cast<T>(m.symbol(name));
  if (!slot) throw std::runtime_error("dynamic module " + m.path() + " lacks mandatory symbol " + name);
}
template <typename T>
void want(const DynamicModule& m, T& slot, const char* name) {
  slot = reinterpret_cast<T>(m.symbol(name));
}
}  // namespace

#define HOOK(n) "envoy_dynamic_module_on_http_filter_" n

HttpFilterHooks resolveHttpFilterHooks(const DynamicModule& m) {
  HttpFilterHooks h;
  need(m, h.config_new, HOOK("config_new"));
  need(m, h.config_destroy, HOOK("config_destroy"));
  need(m, h.filter_new, HOOK("new"));
  need(m, h.stream_complete, HOOK("stream_complete"));
  need(m, h.destroy, HOOK("destroy"));
  need(m, h.request_headers, HOOK("request_headers"));
  need(m, h.request_body, HOOK("request_body"));
  need(m, h.request_trailers, HOOK("request_trailers"));
  need(m, h.response_headers, HOOK("response_headers"));
  need(m, h.response_body, HOOK("response_body"));
  need(m, h.response_trailers, HOOK("response_trailers"));
  need(m, h.http_callout_done, HOOK("http_callout_done"));
  need(m, h.http_stream_headers, HOOK("http_stream_headers"));
  need(m, h.http_stream_data, HOOK("http_stream_data"));
  need(m, h.http_stream_trailers, HOOK("http_stream_trailers"));
  need(m, h.http_stream_complete, HOOK("http_stream_complete"));
  need(m, h.http_stream_reset, HOOK("http_stream_reset"));
  need(m, h.scheduled, HOOK("scheduled"));
  need(m, h.above_high_watermark, HOOK("downstream_above_write_buffer_high_watermark"));
  need(m, h.below_low_watermark, HOOK("downstream_below_write_buffer_low_watermark"));
  want(m, h.local_reply, HOOK("local_reply"));
  want(m, h.config_scheduled, HOOK("config_scheduled"));
  return h;
}

PerRouteHooks resolvePerRouteHooks(const DynamicModule& m) {
  PerRouteHooks h;
  need(m, h.config_new, HOOK("per_route_config_new"));
  need(m, h.config_destroy, HOOK("per_route_config_destroy"));
  return h;
}

}  // namespace host
