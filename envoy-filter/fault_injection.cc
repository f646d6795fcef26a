#include "envoy-filter/fault_injection.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace nodevoy {
namespace {
// ",hook1,hook2," so a lookup of ",hook," never matches part of a longer name; empty when unset.
const std::string& injected() {
  static const std::string list = [] {
    const char* v = std::getenv("NODEVOY_TEST_THROW_IN");
    return v && *v ? "," + std::string(v) + "," : std::string();
  }();
  return list;
}
}  // namespace

void maybeInjectFault(std::string_view hook) {
  const std::string& list = injected();
  if (list.empty()) return;
  if (list.find("," + std::string(hook) + ",") != std::string::npos)
    throw std::runtime_error("fault injected by NODEVOY_TEST_THROW_IN");
}

}  // namespace nodevoy
