// The kit has no LoopPump: Node runs the test process's loop itself, so JsEnv never makes one there
// (kit_env.cc). These definitions only let the stream core, which offers its scheduler to a pump when
// there is one, link without envoy-filter/loop_pump.cc (which reads libnode 18's libuv internals).
#include <cstdlib>

#include "envoy-filter/loop_pump.h"

namespace nodevoy {

LoopPump::LoopPump(uv_loop_t*) {
  std::abort();  // never made in the kit
}
LoopPump::~LoopPump() = default;
void LoopPump::offer(envoy_dynamic_module_type_http_filter_scheduler_module_ptr) {}
void LoopPump::withdraw(envoy_dynamic_module_type_http_filter_scheduler_module_ptr) {}
bool LoopPump::due() const {
  return false;
}
void LoopPump::update(int, bool) {}

}  // namespace nodevoy
