// Helpers around the Phase and Direction enums (declared in native/binding.spec.json, generated into
// native/generated/enums.gen.h for C++ and lib/generated/enums.ts for the runtime).
#pragma once
#include <cstdint>

#include "native/generated/enums.gen.h"

namespace nodevoy {

// A phase's direction as an index (0 request, 1 response), and the three phases of a direction.
constexpr int index(Direction d) {
  return static_cast<int>(d);
}
constexpr int kRequest = index(Direction::Request);
constexpr int directionOf(Phase p) {
  return static_cast<int>(p) & 1;
}
constexpr Phase headersPhase(int direction) {
  return static_cast<Phase>(static_cast<int>(Phase::RequestHeaders) + direction);
}
constexpr Phase dataPhase(int direction) {
  return static_cast<Phase>(static_cast<int>(Phase::RequestData) + direction);
}
constexpr Phase trailersPhase(int direction) {
  return static_cast<Phase>(static_cast<int>(Phase::RequestTrailers) + direction);
}
inline const char* phaseName(Phase p) {
  return kPhaseNames[static_cast<int>(p)];
}

// Scheduler event ids this module commits.
constexpr uint64_t kPumpEvent = static_cast<uint64_t>(SchedulerEvent::Pump);      // run the environment's libuv loop
constexpr uint64_t kResumeEvent = static_cast<uint64_t>(SchedulerEvent::Resume);  // a parked handler settled

}  // namespace nodevoy
