// Module-owned bytes as the ABI's module_buffer (Envoy copies them before the callback returns).
#pragma once
#include <string_view>

#include "envoy-filter/envoy_abi.h"

namespace nodevoy {

inline envoy_dynamic_module_type_module_buffer moduleBuffer(std::string_view s) {
  return {s.data(), s.size()};
}

}  // namespace nodevoy
