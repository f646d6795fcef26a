// Config-lifetime objects (main thread): the filter config Envoy hands to the module as
// filter_config_envoy_ptr, its metrics, and per-route configs.
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config.h"
#include "dynamic_module.h"
#include "histogram.h"

namespace host {

enum class MetricKind { Counter, Gauge, Histogram };

struct Metric {
  MetricKind kind;
  std::string name;  // full: <namespace>.<name>
  std::vector<std::string> label_names;
  std::mutex mu;
  std::map<std::vector<std::string>, uint64_t> values;       // counters and gauges
  std::map<std::vector<std::string>, Histogram> histograms;  // by label values
};

// Every metric defined by any filter config, for the admin endpoint.
class StatsStore {
 public:
  static StatsStore& get();
  std::shared_ptr<Metric> add(MetricKind kind, std::string name, std::vector<std::string> labels);
  std::vector<std::shared_ptr<Metric>> all();
  // Host-level counters (downstream requests, local replies, ...).
  void bump(const std::string& name, uint64_t by = 1);
  // Envoy's stats flush (every stats_flush_interval): histogram samples become visible.
  void flush();

 private:
  std::mutex mu_;
  std::vector<std::shared_ptr<Metric>> metrics_;
};

class FilterConfig {
 public:
  FilterConfig(const HttpFilterConfig& cfg, std::shared_ptr<DynamicModule> module);
  ~FilterConfig();
  FilterConfig(const FilterConfig&) = delete;
  FilterConfig& operator=(const FilterConfig&) = delete;

  const std::string& name() const { return name_; }  // the http_filters[].name
  const HttpFilterHooks& hooks() const { return hooks_; }
  const void* moduleConfig() const { return module_config_; }

  // Metric definition is open only while config_new runs, as in Envoy.
  bool frozen() const { return frozen_; }
  envoy_dynamic_module_type_metrics_result define(MetricKind kind, std::string_view name,
                                                  std::vector<std::string> labels, size_t* id);
  envoy_dynamic_module_type_metrics_result record(MetricKind kind, size_t id, std::vector<std::string> labels,
                                                  int64_t delta, bool set);
  std::thread::id mainThread() const { return main_thread_; }

 private:
  std::string name_;
  std::string metrics_namespace_;
  std::shared_ptr<DynamicModule> module_;
  HttpFilterHooks hooks_;
  const void* module_config_ = nullptr;
  bool frozen_ = false;
  std::thread::id main_thread_;
  std::vector<std::shared_ptr<Metric>> counters_, gauges_, histograms_;
};

class PerRouteConfig {
 public:
  PerRouteConfig(const PerRouteFilterConfig& cfg, std::shared_ptr<DynamicModule> module);
  ~PerRouteConfig();
  PerRouteConfig(const PerRouteConfig&) = delete;
  PerRouteConfig& operator=(const PerRouteConfig&) = delete;
  const void* modulePtr() const { return module_ptr_; }
  bool disabled() const { return disabled_; }

 private:
  std::shared_ptr<DynamicModule> module_;
  PerRouteHooks hooks_;
  const void* module_ptr_ = nullptr;
  bool disabled_ = false;
};

}  // namespace host
