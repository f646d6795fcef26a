#include "envoy-filter/loop_pump.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

#include "envoy-filter/outcome.h"

namespace nodevoy {

LoopPump::LoopPump(uv_loop_t* loop) : loop_(loop), backend_fd_(uv_backend_fd(loop)) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = backend_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, backend_fd_, &ev);
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  timeout_ms_ = uv_backend_timeout(loop_);
  thread_ = std::thread([this] { run(); });
}

LoopPump::~LoopPump() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    target_ = nullptr;
  }
  cv_.notify_all();
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  thread_.join();
  close(epoll_fd_);
  close(wake_fd_);
}

void LoopPump::commitLocked() {
  if (target_) {
    envoy_dynamic_module_callback_http_filter_scheduler_commit(target_, kPumpEvent);
    starved_ = false;
  } else {
    starved_ = true;  // the next stream on this worker carries it
  }
}

void LoopPump::offer(envoy_dynamic_module_type_http_filter_scheduler_module_ptr scheduler) {
  std::lock_guard lock(mu_);
  live_.push_back(scheduler);
  target_ = scheduler;
  if (starved_ && requested_) commitLocked();
}

void LoopPump::withdraw(envoy_dynamic_module_type_http_filter_scheduler_module_ptr scheduler) {
  std::lock_guard lock(mu_);
  auto it = std::find(live_.rbegin(), live_.rend(), scheduler);
  if (it == live_.rend()) return;
  live_.erase(std::next(it).base());
  if (target_ != scheduler) return;
  // Another live stream of this worker carries the loop from now on; a run requested through the
  // withdrawn scheduler may never be delivered, so ask again through the new one.
  target_ = live_.empty() ? nullptr : live_.back();
  if (requested_) commitLocked();
}

bool LoopPump::due() const {
  std::lock_guard lock(mu_);
  // A non-empty watcher queue means JS opened fds outside uv_run: libuv registers them only there.
  const bool fresh_fds = loop_->watcher_queue[0] != static_cast<const void*>(&loop_->watcher_queue);
  return requested_ || fresh_fds;
}

void LoopPump::update(int timeout_ms, bool ran) {
  bool rearm;
  {
    std::lock_guard lock(mu_);
    if (ran) requested_ = false;
    rearm = timeout_ms != timeout_ms_;
    timeout_ms_ = timeout_ms;
    if (timeout_ms == 0 && !requested_) {
      // setImmediate or closing handles: post to the worker directly, no helper round trip.
      requested_ = true;
      commitLocked();
      rearm = false;
    }
  }
  cv_.notify_all();
  if (rearm) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
}

void LoopPump::run() {
  epoll_event events[2];
  for (;;) {
    int timeout;
    {
      std::unique_lock lock(mu_);
      // While a run is requested the worker owns the loop: wait for it to finish.
      cv_.wait(lock, [&] { return stop_ || !requested_; });
      if (stop_) return;
      timeout = timeout_ms_;
    }
    int n = epoll_wait(epoll_fd_, events, 2, timeout);
    bool woken = false, io = false;
    for (int i = 0; i < n; i++) {
      if (events[i].data.fd == wake_fd_) {
        uint64_t v;
        (void)!read(wake_fd_, &v, sizeof v);
        woken = true;
      } else {
        io = true;
      }
    }
    std::lock_guard lock(mu_);
    if (stop_) return;
    if (woken && !io) continue;  // re-read the timeout
    if (n < 0) continue;         // EINTR
    requested_ = true;           // I/O ready or timer due
    commitLocked();
  }
}

}  // namespace nodevoy
