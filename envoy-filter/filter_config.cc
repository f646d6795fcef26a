#include "envoy-filter/filter_config.h"

#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "envoy-filter/js_env.h"

namespace nodevoy {

namespace {
std::atomic<uint64_t> g_next_id{1};
int g_live_configs = 0;  // main thread only: the validation environment lives while configs do
}  // namespace

std::unique_ptr<FilterConfig> FilterConfig::create(std::string_view filter_name, std::string_view json, std::string* error) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json.empty() ? std::string_view("{}") : json);
  } catch (const nlohmann::json::exception& e) {
    *error = std::string("filter_config is not valid JSON: ") + e.what();
    return nullptr;
  }
  if (!doc.is_object()) {
    *error = "filter_config must be a JSON object like {\"module\": \"/abs/path/filters.js\", \"config\": {...}}";
    return nullptr;
  }
  for (auto it = doc.begin(); it != doc.end(); ++it)
    if (it.key() != "module" && it.key() != "config") {
      *error = "filter_config has an unknown field \"" + it.key() + "\" (expected \"module\" and \"config\")";
      return nullptr;
    }
  if (!doc.contains("module") || !doc["module"].is_string() || doc["module"].get<std::string>().empty()) {
    *error = "filter_config.module is required: the absolute path of the compiled filter bundle";
    return nullptr;
  }
  std::unique_ptr<FilterConfig> c(new FilterConfig());
  c->id_ = g_next_id++;
  g_live_configs++;
  c->filter_name_ = std::string(filter_name);
  c->module_path_ = doc["module"].get<std::string>();
  if (c->module_path_[0] != '/') {
    // Relative to Envoy's working directory, like other file paths in an Envoy config.
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd)) c->module_path_ = std::string(cwd) + "/" + c->module_path_;
  }
  c->user_config_json_ = doc.contains("config") ? doc["config"].dump() : "{}";
  if (c->filter_name_.empty()) {
    *error = "filter_name is required: the exported filter to run";
    return nullptr;
  }
  // Load it now, on the main thread, so a missing file, a syntax error, a throwing module or an
  // unknown filter rejects the config instead of failing requests.
  JsEnv* env = JsEnv::forThisThread(false, error);
  if (!env) return nullptr;
  std::string load_error;
  if (env->instanceFor(*c, &load_error).index < 0) {
    *error = "cannot load filter \"" + c->filter_name_ + "\" from " + c->module_path_ + ": " + load_error;
    return nullptr;  // ~FilterConfig balances the count
  }
  return c;
}

FilterConfig::~FilterConfig() {
  if (id_ == 0) return;
  if (--g_live_configs == 0) JsEnv::releaseThisThread();
}

}  // namespace nodevoy
