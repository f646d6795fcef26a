// A filter config (main thread): the parsed filter_config JSON. Its bundle is loaded once on the main
// thread at config time so that every mistake is reported then (invariant 6), and again lazily in each
// worker's environment.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace nodevoy {

class FilterConfig {
 public:
  // Parses and validates; returns null with *error set when Envoy must reject the config.
  static std::unique_ptr<FilterConfig> create(std::string_view filter_name, std::string_view json, std::string* error);
  ~FilterConfig();
  FilterConfig(const FilterConfig&) = delete;
  FilterConfig& operator=(const FilterConfig&) = delete;

  uint64_t id() const { return id_; }
  const std::string& filterName() const { return filter_name_; }
  const std::string& modulePath() const { return module_path_; }
  const std::string& userConfigJson() const { return user_config_json_; }

 private:
  FilterConfig() = default;
  uint64_t id_ = 0;
  std::string filter_name_;
  std::string module_path_;
  std::string user_config_json_;
};

}  // namespace nodevoy
