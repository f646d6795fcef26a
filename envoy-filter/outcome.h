// Helpers around the Outcome and Phase enums (declared in native/binding.spec.json, generated into
// native/generated/enums.gen.h for C++ and lib/generated/enums.ts for the runtime).
#pragma once
#include <cstdint>

#include "native/generated/enums.gen.h"

namespace nodevoy {

constexpr int kPhases = 6;

inline int directionOf(Phase p) { return static_cast<int>(p) & 1; }  // 0 request, 1 response
inline Phase phaseOf(int kind, int direction) { return static_cast<Phase>(kind * 2 + direction); }
inline const char* phaseName(Phase p) {
  static const char* names[kPhases] = {"request_headers", "response_headers", "request_data",
                                       "response_data",   "request_trailers", "response_trailers"};
  return names[static_cast<int>(p)];
}

// Scheduler event ids this module commits.
constexpr uint64_t kPumpEvent = 1;    // run the environment's libuv loop
constexpr uint64_t kResumeEvent = 2;  // a parked handler settled

}  // namespace nodevoy
