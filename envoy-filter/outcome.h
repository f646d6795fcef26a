// Values shared with lib/runtime.ts (enum Outcome, enum Phase); keep the two in step.
#pragma once
#include <cstdint>

namespace nodevoy {

// Timeout: the handler ran past its synchronous budget (terminated) or its promise past its async budget.
enum class Outcome : uint32_t { Continue = 0, Reply = 1, Failed = 2, Pending = 3, Timeout = 4 };

// A handler slot. Even values are the request direction, odd the response direction; bit (1 << phase)
// of an instance's handler mask says the filter defines that handler.
enum class Phase : uint32_t {
  RequestHeaders = 0,
  ResponseHeaders = 1,
  RequestData = 2,
  ResponseData = 3,
  RequestTrailers = 4,
  ResponseTrailers = 5,
};
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
