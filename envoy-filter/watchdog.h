// Stops JS that runs past its synchronous time budget (issue 6): the worker arms it around every call
// into JS; a helper thread polls and calls V8's thread-safe TerminateExecution when a call overstays.
// The worker then cancels the termination and the environment keeps serving.
#pragma once
#include <v8.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace nodevoy {

class Watchdog {
 public:
  explicit Watchdog(v8::Isolate* isolate);
  ~Watchdog();  // stops and joins the helper
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Worker thread. Nested arms keep the outermost budget.
  void arm(uint32_t budget_ms);
  // Worker thread: true if this call was terminated (and the termination has been cancelled).
  bool disarm();

 private:
  void run();
  static int64_t nowMs();

  v8::Isolate* isolate_;
  std::atomic<int64_t> deadline_ms_{0};  // 0: no JS running
  std::atomic<bool> fired_{false};
  int depth_ = 0;  // worker thread only
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

// Arms a watchdog for one scope (no-op when null).
class WatchdogScope {
 public:
  WatchdogScope(Watchdog* w, uint32_t budget_ms) : w_(w) {
    if (w_) w_->arm(budget_ms);
  }
  ~WatchdogScope() {
    if (w_ && !done_) w_->disarm();
  }
  WatchdogScope(const WatchdogScope&) = delete;
  WatchdogScope& operator=(const WatchdogScope&) = delete;
  // Ends the scope early, reporting whether the call was terminated.
  bool terminated() {
    done_ = true;
    return w_ && w_->disarm();
  }

 private:
  Watchdog* w_;
  bool done_ = false;
};

}  // namespace nodevoy
