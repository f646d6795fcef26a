#include "filter_config.h"

#include <stdexcept>

#include "log.h"

namespace host {

StatsStore& StatsStore::get() {
  static StatsStore s;
  return s;
}

std::shared_ptr<Metric> StatsStore::add(MetricKind kind, std::string name, std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  for (auto& m : metrics_)
    if (m->name == name && m->kind == kind && m->label_names == labels) return m;  // two configs, one stat
  auto m = std::make_shared<Metric>();
  m->kind = kind;
  m->name = std::move(name);
  m->label_names = std::move(labels);
  metrics_.push_back(m);
  return m;
}

std::vector<std::shared_ptr<Metric>> StatsStore::all() {
  std::lock_guard lock(mu_);
  return metrics_;
}

void StatsStore::flush() {
  for (auto& m : all()) {
    if (m->kind != MetricKind::Histogram) continue;
    std::lock_guard lock(m->mu);
    for (auto& [labels, h] : m->histograms) h.flush();
  }
}

void StatsStore::bump(const std::string& name, uint64_t by) {
  auto m = add(MetricKind::Counter, name, {});
  std::lock_guard lock(m->mu);
  m->values[{}] += by;
}

FilterConfig::FilterConfig(const HttpFilterConfig& cfg, std::shared_ptr<DynamicModule> module)
    : name_(cfg.name),
      metrics_namespace_(cfg.module.metrics_namespace),
      module_(std::move(module)),
      main_thread_(std::this_thread::get_id()) {
  hooks_ = resolveHttpFilterHooks(*module_);
  envoy_dynamic_module_type_envoy_buffer n{cfg.filter_name.data(), cfg.filter_name.size()};
  envoy_dynamic_module_type_envoy_buffer c{cfg.filter_config.data(), cfg.filter_config.size()};
  module_config_ = hooks_.config_new(this, n, c);
  frozen_ = true;
  if (!module_config_)
    throw std::runtime_error("dynamic module " + module_->path() + " rejected the config of http filter '" + cfg.name +
                             "' (filter_name '" + cfg.filter_name + "')");
}

FilterConfig::~FilterConfig() {
  if (module_config_) hooks_.config_destroy(module_config_);
}

envoy_dynamic_module_type_metrics_result FilterConfig::define(MetricKind kind, std::string_view name,
                                                              std::vector<std::string> labels, size_t* id) {
  if (frozen_) return envoy_dynamic_module_type_metrics_result_Frozen;
  auto& vec = kind == MetricKind::Counter ? counters_ : kind == MetricKind::Gauge ? gauges_ : histograms_;
  vec.push_back(StatsStore::get().add(kind, metrics_namespace_ + "." + std::string(name), std::move(labels)));
  *id = vec.size() - 1;
  // As on Envoy, a metric without labels exists from its definition (0, or "No recorded values");
  // one with labels appears per label set when first recorded.
  auto& m = *vec.back();
  if (m.label_names.empty()) {
    std::lock_guard lock(m.mu);
    if (kind == MetricKind::Histogram)
      m.histograms.try_emplace(std::vector<std::string>{});
    else
      m.values.try_emplace(std::vector<std::string>{}, 0);
  }
  return envoy_dynamic_module_type_metrics_result_Success;
}

envoy_dynamic_module_type_metrics_result FilterConfig::record(MetricKind kind, size_t id,
                                                              std::vector<std::string> labels, int64_t delta,
                                                              bool set) {
  auto& vec = kind == MetricKind::Counter ? counters_ : kind == MetricKind::Gauge ? gauges_ : histograms_;
  if (id >= vec.size()) return envoy_dynamic_module_type_metrics_result_MetricNotFound;
  auto& m = *vec[id];
  if (labels.size() != m.label_names.size()) return envoy_dynamic_module_type_metrics_result_InvalidLabels;
  std::lock_guard lock(m.mu);
  if (kind == MetricKind::Histogram) {
    m.histograms[labels].record(static_cast<uint64_t>(delta));
  } else if (set) {
    m.values[labels] = static_cast<uint64_t>(delta);
  } else {
    m.values[labels] += static_cast<uint64_t>(delta);
  }
  return envoy_dynamic_module_type_metrics_result_Success;
}

PerRouteConfig::PerRouteConfig(const PerRouteFilterConfig& cfg, std::shared_ptr<DynamicModule> module)
    : module_(std::move(module)), disabled_(cfg.disabled) {
  if (disabled_) return;
  hooks_ = resolvePerRouteHooks(*module_);
  envoy_dynamic_module_type_envoy_buffer n{cfg.per_route_config_name.data(), cfg.per_route_config_name.size()};
  envoy_dynamic_module_type_envoy_buffer c{cfg.filter_config.data(), cfg.filter_config.size()};
  module_ptr_ = hooks_.config_new(n, c);
  if (!module_ptr_)
    throw std::runtime_error("dynamic module " + module_->path() + " rejected a per-route config (" +
                             cfg.per_route_config_name + ")");
}

PerRouteConfig::~PerRouteConfig() {
  if (module_ptr_) hooks_.config_destroy(module_ptr_);
}

}  // namespace host
