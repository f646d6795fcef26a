#include "envoy-filter/watchdog.h"

#include <chrono>

namespace nodevoy {

namespace {
constexpr int64_t kPollMs = 5;  // termination lands within budget + 5 ms
}

// The helper starts in the body: every member it uses exists by then.
Watchdog::Watchdog(v8::Isolate* isolate) : isolate_(isolate) {
  thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

int64_t Watchdog::nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Watchdog::arm(uint32_t budget_ms) {
  if (depth_++ > 0) return;
  fired_.store(false, std::memory_order_relaxed);
  deadline_ms_.store(nowMs() + budget_ms, std::memory_order_release);
}

bool Watchdog::disarm() {
  if (depth_ == 0 || --depth_ > 0) return false;
  bool fired;
  {
    // Under the helper's lock: it cannot fire after this, so a termination never leaks into a later call.
    std::lock_guard lock(mu_);
    deadline_ms_.store(0, std::memory_order_release);
    fired = fired_.exchange(false);
  }
  if (fired) isolate_->CancelTerminateExecution();
  return fired;
}

void Watchdog::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(kPollMs));
    const int64_t deadline = deadline_ms_.load(std::memory_order_acquire);
    if (deadline != 0 && nowMs() > deadline && !fired_.load()) {
      fired_.store(true);
      isolate_->TerminateExecution();  // thread-safe; the worker cancels it in disarm()
    }
  }
}

}  // namespace nodevoy
