// Drives an environment's libuv loop on its Envoy worker. Envoy gives a module no way to put a file
// event or timer on a worker's dispatcher, so a helper thread waits on libuv's backend fd and timeout
// and, when work is due, commits an event on the scheduler of a live stream of that worker; the
// scheduled hook then runs the loop on the worker (architecture.md, "Event loop").
#pragma once
#include <uv.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "envoy-filter/envoy_abi.h"

namespace nodevoy {

class LoopPump {
 public:
  explicit LoopPump(uv_loop_t* loop);
  ~LoopPump();  // stops and joins the helper thread
  LoopPump(const LoopPump&) = delete;
  LoopPump& operator=(const LoopPump&) = delete;

  // Worker thread: the schedulers the helper may commit on (the newest live one). A stream offers its
  // scheduler when it starts and withdraws it when it completes and before deleting it (under the same
  // lock the helper commits under).
  void offer(envoy_dynamic_module_type_http_filter_scheduler_module_ptr scheduler);
  void withdraw(envoy_dynamic_module_type_http_filter_scheduler_module_ptr scheduler);

  // Worker thread, after running JS: whether the loop should run now (the helper asked, or new fds
  // wait for registration, which libuv 1.44 only does inside uv_run).
  bool due() const;
  // Worker thread, after uv_run: the loop's new timeout; wakes the helper if it must re-arm.
  void ran(int timeout_ms) { update(timeout_ms, true); }
  // Worker thread, after JS ran without a loop turn: timers it added may need an earlier wake-up.
  void retime(int timeout_ms) { update(timeout_ms, false); }

 private:
  void run();
  void commitLocked();
  void update(int timeout_ms, bool ran);

  uv_loop_t* loop_;
  int backend_fd_;
  int wake_fd_;
  int epoll_fd_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool requested_ = false;  // the helper asked for a run that has not happened yet
  bool starved_ = false;    // it asked while no stream could carry the event
  int timeout_ms_ = -1;
  envoy_dynamic_module_type_http_filter_scheduler_module_ptr target_ = nullptr;
  std::vector<envoy_dynamic_module_type_http_filter_scheduler_module_ptr>
      live_;  // offered, not withdrawn (oldest first)
};

}  // namespace nodevoy
