// Values shared with lib/bootstrap.ts (enum Outcome, enum Phase); keep the two in step.
#pragma once
#include <cstdint>

namespace nodevoy {

enum class Outcome : uint32_t { Continue = 0, Reply = 1, Failed = 2, Pending = 3 };
enum class Phase : uint32_t { RequestHeaders = 0, ResponseHeaders = 1 };

// Scheduler event ids this module commits.
constexpr uint64_t kPumpEvent = 1;    // run the environment's libuv loop
constexpr uint64_t kResumeEvent = 2;  // a parked handler settled

}  // namespace nodevoy
