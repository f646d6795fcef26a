#include "envoy-filter/filter_config.h"

#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "envoy-filter/js_env.h"
#include "envoy-filter/module_buffer.h"

namespace nodevoy {

namespace {
std::atomic<uint64_t> g_next_id{1};

// One copy of each validated bundle text however many configs use it (a listener may name one bundle
// in many filters, and every xDS push makes new configs for it).
std::mutex g_sources_mu;
std::map<std::string, std::weak_ptr<const std::string>> g_sources;  // by identity

std::shared_ptr<const std::string> internSource(const std::string& identity, std::string text) {
  std::lock_guard lock(g_sources_mu);
  std::erase_if(g_sources, [](const auto& e) { return e.second.expired(); });
  auto& slot = g_sources[identity];
  if (auto shared = slot.lock(); shared && *shared == text) return shared;
  auto made = std::make_shared<const std::string>(std::move(text));
  slot = made;
  return made;
}

// Parses a config document that must be an object with only the given keys.
constexpr int kMaxDepth =
    1000;  // deeper documents are refused: printing them back would recurse too far (100,000 overflowed the stack)

bool parseObject(std::string_view json, std::initializer_list<const char*> keys, const char* what, nlohmann::json* out,
                 std::string* error) {
  try {
    *out = nlohmann::json::parse(json.empty() ? std::string_view("{}") : json,
                                 [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
                                   if (depth > kMaxDepth) throw std::length_error("nested deeper than 1000 levels");
                                   return true;
                                 });
  } catch (const nlohmann::json::exception& e) {
    *error = std::string(what) + " is not valid JSON: " + e.what();
    return false;
  } catch (const std::length_error& e) {
    *error = std::string(what) + " is " + e.what();
    return false;
  }
  if (!out->is_object()) {
    *error = std::string(what) + " must be a JSON object";
    return false;
  }
  for (auto it = out->begin(); it != out->end(); ++it) {
    bool known = false;
    for (const char* k : keys) known = known || it.key() == k;
    if (!known) {
      std::string list;
      for (const char* k : keys) list += std::string(list.empty() ? "" : ", ") + "\"" + k + "\"";
      *error = std::string(what) + " has an unknown field \"" + it.key() + "\" (expected " + list + ")";
      return false;
    }
  }
  return true;
}

std::string absolute(std::string path) {
  if (path.empty() || path[0] == '/') return path;
  // Relative to Envoy's working directory, like other file paths in an Envoy config.
  char cwd[4096];
  return getcwd(cwd, sizeof cwd) ? std::string(cwd) + "/" + path : path;
}

std::string configText(const nlohmann::json& doc) {
  return doc.contains("config") ? doc["config"].dump() : "{}";
}
}  // namespace

std::unique_ptr<FilterConfig> FilterConfig::create(envoy_dynamic_module_type_http_filter_config_envoy_ptr envoy,
                                                   std::string_view filter_name, std::string_view json,
                                                   std::string* error) {
  nlohmann::json doc;
  if (!parseObject(json,
                   {"module", "config", "failure_mode", "failure_status", "sync_budget_ms", "async_budget_ms",
                    "js_time_histogram"},
                   "filter_config", &doc, error))
    return nullptr;
  if (!doc.contains("module") || !doc["module"].is_string() || doc["module"].get<std::string>().empty()) {
    *error = "filter_config.module is required: the absolute path of the compiled filter bundle";
    return nullptr;
  }
  std::unique_ptr<FilterConfig> c(new FilterConfig());
  c->id_ = g_next_id++;
  JsEnv::configCreated(c->id_);
  c->filter_name_ = std::string(filter_name);
  c->module_path_ = absolute(doc["module"].get<std::string>());
  c->user_config_json_ = configText(doc);
  if (!c->parsePolicy(doc, error)) return nullptr;
  if (c->filter_name_.empty()) {
    *error = "filter_name is required: the exported filter to run";
    return nullptr;
  }
  // Load it now, on the main thread, so a missing file, a syntax error, a throwing module, an unknown
  // filter or a config its schema rejects fails the config instead of failing requests.
  JsEnv* env = JsEnv::forThisThread(false, error);
  if (!env) return nullptr;
  std::string load_error;
  std::string source;
  auto inst = env->instanceFor(*c, &load_error, &source, &c->bundle_.identity);
  if (inst.index < 0) {
    *error = "cannot load filter \"" + c->filter_name_ + "\" from " + c->module_path_ + ": " + load_error;
    return nullptr;  // ~FilterConfig unloads whatever was made
  }
  if (!source.empty()) c->bundle_.source = internSource(c->bundle_.identity, std::move(source));
  if (!c->defineMetrics(envoy, env->metricsOf(inst.index), error)) return nullptr;
  return c;
}

bool FilterConfig::parsePolicy(const nlohmann::json& doc, std::string* error) {
  if (doc.contains("failure_mode")) {
    const auto& m = doc["failure_mode"];
    if (!m.is_string() || (m != "fail_closed" && m != "fail_open")) {
      *error = "filter_config.failure_mode must be \"fail_closed\" or \"fail_open\"";
      return false;
    }
    fail_open_ = m == "fail_open";
  }
  if (doc.contains("js_time_histogram")) {
    if (!doc["js_time_histogram"].is_boolean()) {
      *error = "filter_config.js_time_histogram must be true or false";
      return false;
    }
    js_time_histogram_ = doc["js_time_histogram"].get<bool>();
  }
  auto number = [&](const char* key, uint32_t lo, uint32_t hi, uint32_t* out) {
    if (!doc.contains(key)) return true;
    const auto& v = doc[key];
    if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
      *error = std::string("filter_config.") + key + " must be an integer from " + std::to_string(lo) + " to " +
               std::to_string(hi);
      return false;
    }
    *out = static_cast<uint32_t>(v.get<int64_t>());
    return true;
  };
  return number("failure_status", 200, 599, &failure_status_) && number("sync_budget_ms", 1, 60000, &sync_budget_ms_) &&
         number("async_budget_ms", 1, 3600000, &async_budget_ms_);
}

bool FilterConfig::defineMetrics(envoy_dynamic_module_type_http_filter_config_envoy_ptr envoy,
                                 const std::string& declarations, std::string* error) {
  auto define = [&](MetricKind kind, const std::string& name, const std::vector<std::string>& labels, size_t* id) {
    std::vector<envoy_dynamic_module_type_module_buffer> ls;
    for (const auto& l : labels) ls.push_back(moduleBuffer(l));
    const std::string full = filter_name_ + "." + name;
    auto* lp = ls.empty() ? nullptr : ls.data();
    envoy_dynamic_module_type_metrics_result r =
        kind == MetricKind::Counter ? envoy_dynamic_module_callback_http_filter_config_define_counter(
                                          envoy, moduleBuffer(full), lp, ls.size(), id)
        : kind == MetricKind::Gauge ? envoy_dynamic_module_callback_http_filter_config_define_gauge(
                                          envoy, moduleBuffer(full), lp, ls.size(), id)
                                    : envoy_dynamic_module_callback_http_filter_config_define_histogram(
                                          envoy, moduleBuffer(full), lp, ls.size(), id);
    if (r != envoy_dynamic_module_type_metrics_result_Success) {
      *error = "cannot define metric \"" + full + "\" (metrics result " + std::to_string(static_cast<int>(r)) + ")";
      return false;
    }
    return true;
  };
  if (!define(MetricKind::Counter, "nodevoy.requests", {}, &requests_) ||
      !define(MetricKind::Counter, "nodevoy.errors", {"kind"}, &errors_) ||
      (js_time_histogram_ && !define(MetricKind::Histogram, "nodevoy.js_time_us", {"phase"}, &js_time_)))
    return false;
  auto decls = nlohmann::json::parse(declarations, nullptr, false);
  if (!decls.is_array()) {
    *error = "the filter's metric declarations are malformed";
    return false;
  }
  for (const auto& d : decls) {
    MetricDef m;
    m.kind = static_cast<MetricKind>(d.value("kind", 0));
    auto labels = d.value("labels", std::vector<std::string>{});
    m.labels = labels.size();
    if (!define(m.kind, d.value("name", std::string()), labels, &m.envoy_id)) return false;
    metrics_.push_back(m);
  }
  return true;
}

FilterConfig::~FilterConfig() {
  if (id_ == 0) return;
  // Envoy destroys a filter config once its last stream is gone (each stream holds it), so no stream
  // can still run this config's instance anywhere.
  JsEnv::configGone(id_);
}

std::unique_ptr<PerRouteConfig> PerRouteConfig::create(std::string_view filter_name, std::string_view json,
                                                       std::string* error) {
  nlohmann::json doc;
  if (!parseObject(json, {"config", "module"}, "per-route filter_config", &doc, error)) return nullptr;
  if (doc.contains("config") && !doc["config"].is_object()) {
    *error = "per-route filter_config.config must be a JSON object (the fields it overrides)";
    return nullptr;
  }
  if (doc.contains("module") && !doc["module"].is_string()) {
    *error = "per-route filter_config.module must be a string";
    return nullptr;
  }
  if (filter_name.empty()) {
    *error = "per_route_config_name is required: the filter_name of the filter this route config is for";
    return nullptr;
  }
  std::unique_ptr<PerRouteConfig> c(new PerRouteConfig());
  c->id_ = g_next_id++;
  JsEnv::configCreated(c->id_);
  c->filter_name_ = std::string(filter_name);
  c->config_json_ = configText(doc);
  JsEnv* env = JsEnv::forThisThread(false, error);
  if (!env) return nullptr;
  std::string module = doc.contains("module") ? absolute(doc["module"].get<std::string>()) : std::string();
  std::string check_error;
  if (!env->checkRoute(c->filter_name_, module, c->config_json_, &check_error)) {
    *error = "per-route config for filter \"" + c->filter_name_ + "\" rejected: " + check_error;
    return nullptr;
  }
  return c;
}

PerRouteConfig::~PerRouteConfig() {
  if (id_ == 0) return;
  // A stream holds its route, so none can still use what the environments parsed of this config.
  JsEnv::configGone(id_);
}

}  // namespace nodevoy
