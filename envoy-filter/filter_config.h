// A filter config (main thread): the parsed filter_config JSON. Its bundle is loaded once on the main
// thread at config time so that every mistake is reported then (invariant 6), and again lazily in each
// worker's environment, from the text the main thread validated (BundleText). The filter's metrics are
// defined here, the only place the ABI allows it. Its destruction unloads its instance everywhere
// (JsEnv::configGone).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "envoy-filter/envoy_abi.h"
#include "envoy-filter/outcome.h"

namespace nodevoy {

// The bundle a filter config was validated with: `sha256:<hex>` of the file, and for a CommonJS bundle the
// exact text compiled (null for an ES module, which each environment imports from its file). Workers
// compile this text, so a bundle rewritten in place after validation does not reach them.
struct BundleText {
  std::shared_ptr<const std::string> source;  // shared by the configs that validated the same text
  std::string identity;
};

struct MetricDef {
  MetricKind kind = MetricKind::Counter;
  size_t envoy_id = 0;
  size_t labels = 0;
};

class FilterConfig {
 public:
  // Parses, loads and validates; returns null with *error set when Envoy must reject the config.
  static std::unique_ptr<FilterConfig> create(envoy_dynamic_module_type_http_filter_config_envoy_ptr envoy,
                                              std::string_view filter_name, std::string_view json, std::string* error);
  ~FilterConfig();
  FilterConfig(const FilterConfig&) = delete;
  FilterConfig& operator=(const FilterConfig&) = delete;

  uint64_t id() const { return id_; }
  const std::string& filterName() const { return filter_name_; }
  const std::string& modulePath() const { return module_path_; }
  const std::string& userConfigJson() const { return user_config_json_; }
  const BundleText& bundle() const { return bundle_; }

  // The filter's own metrics, in declaration order (JS names them by index).
  const std::vector<MetricDef>& metrics() const { return metrics_; }
  // nodevoy's per-filter metrics: streams handled, failures by kind, JS time per phase.
  size_t requestsCounter() const { return requests_; }
  size_t errorsCounter() const { return errors_; }
  // filter_config.js_time_histogram (off by default): a labelled histogram record costs Envoy about as
  // much as a no-op JS dispatch (callgrind: ~3,500 instructions), so only filters that ask pay it.
  bool recordsJsTime() const { return js_time_histogram_; }
  size_t jsTimeHistogram() const { return js_time_; }

  // Failure policy: fail_closed answers a failed handler with failure_status (500 by default) and a
  // timed-out one with 504; fail_open continues the stream untouched.
  bool failOpen() const { return fail_open_; }
  uint32_t failureStatus() const { return failure_status_; }
  uint32_t syncBudgetMs() const { return sync_budget_ms_; }
  uint32_t asyncBudgetMs() const { return async_budget_ms_; }

 private:
  FilterConfig() = default;
  bool parsePolicy(const nlohmann::json& doc, std::string* error);
  bool defineMetrics(envoy_dynamic_module_type_http_filter_config_envoy_ptr envoy, const std::string& declarations,
                     std::string* error);

  uint64_t id_ = 0;
  std::string filter_name_;
  std::string module_path_;
  std::string user_config_json_;
  BundleText bundle_;
  std::vector<MetricDef> metrics_;
  size_t requests_ = 0, errors_ = 0, js_time_ = 0;
  bool fail_open_ = false;
  bool js_time_histogram_ = false;
  uint32_t failure_status_ = 500;
  uint32_t sync_budget_ms_ = 250;
  uint32_t async_budget_ms_ = 15000;
};

// A DynamicModuleFilterPerRoute config: {"config": {...}} overriding the filter-level config on a route.
// Validated on the main thread against the filter's route schema; each worker parses it once, when a
// stream on that route first needs it.
class PerRouteConfig {
 public:
  static std::unique_ptr<PerRouteConfig> create(std::string_view filter_name, std::string_view json,
                                                std::string* error);
  ~PerRouteConfig();
  PerRouteConfig(const PerRouteConfig&) = delete;
  PerRouteConfig& operator=(const PerRouteConfig&) = delete;

  uint64_t id() const { return id_; }
  const std::string& filterName() const { return filter_name_; }
  const std::string& configJson() const { return config_json_; }

 private:
  PerRouteConfig() = default;
  uint64_t id_ = 0;
  std::string filter_name_;
  std::string config_json_;
};

}  // namespace nodevoy
