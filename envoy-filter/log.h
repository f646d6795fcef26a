// Logging into Envoy's log (the [dynamic_modules] logger) from native code.
#pragma once
#include <string_view>

#include "envoy-filter/envoy_abi.h"
#include "envoy-filter/module_buffer.h"

namespace nodevoy {

inline bool logEnabled(envoy_dynamic_module_type_log_level level) {
  return envoy_dynamic_module_callback_log_enabled(level);
}

inline void log(envoy_dynamic_module_type_log_level level, std::string_view message) {
  if (!logEnabled(level)) return;
  envoy_dynamic_module_callback_log(level, moduleBuffer(message));
}

inline void logError(std::string_view m) {
  log(envoy_dynamic_module_type_log_level_Error, m);
}
inline void logInfo(std::string_view m) {
  log(envoy_dynamic_module_type_log_level_Info, m);
}
inline void logDebug(std::string_view m) {
  log(envoy_dynamic_module_type_log_level_Debug, m);
}

}  // namespace nodevoy
