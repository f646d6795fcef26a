// One long-lived worker thread with its own libevent loop, as Envoy's workers have their dispatcher.
// Owns downstream connections, upstream pools and the streams running on it.
#pragma once
#include <event2/event.h>
#include <event2/listener.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "config.h"

namespace host {

struct ListenerRuntime;
class ClusterPool;
struct FilterSlot;

// Objects torn down only after the current event finishes (Envoy's deferred deletion), so a callback
// never frees the object whose frame is still on the stack.
// libevent wants timeouts as timevals; configs give milliseconds.
inline timeval msToTimeval(uint64_t ms) {
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

class Deletable {
 public:
  virtual ~Deletable() = default;
};

struct HostOptions {
  bool check_lifetimes = false;  // scribble over Envoy-owned bytes when the hook that handed them out returns
  const Bootstrap* bootstrap = nullptr;
};

class Worker {
 public:
  Worker(uint32_t index, const HostOptions& opts, const std::vector<ListenerRuntime*>& listeners);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  void stop();               // from the main thread: reset live streams, drain, join
  static Worker* current();  // the worker owning the calling thread, or null

  uint32_t index() const { return index_; }
  event_base* base() const { return base_; }
  bool onThread() const { return std::this_thread::get_id() == thread_id_; }
  const HostOptions& options() const { return opts_; }

  void post(std::function<void()> fn);  // any thread
  void deferDelete(std::unique_ptr<Deletable> d);
  ClusterPool* pool(const std::string& cluster);

  // Hook bookkeeping: callbacks must run on this thread inside a hook; borrowed bytes die at hook end.
  void enterHook() { hook_depth_++; }
  void leaveHook();
  int hookDepth() const { return hook_depth_; }
  const char* lend(std::string_view bytes);      // the pointer handed to the module for these bytes
  const char* lendCopy(std::string_view bytes);  // for values with no storage of their own; lives to hook end

  // Live filter slots: a callback with anything else is a dead or foreign pointer.
  std::unordered_set<FilterSlot*>& liveSlots() { return live_slots_; }
  // Streams still running, reset on shutdown.
  std::unordered_set<Deletable*>& connections() { return connections_; }

 private:
  void run();
  static void onPosted(evutil_socket_t, short, void* arg);
  static void onDeferred(evutil_socket_t, short, void* arg);
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len, void* arg);

  uint32_t index_;
  HostOptions opts_;
  std::vector<ListenerRuntime*> listeners_;
  event_base* base_ = nullptr;
  event* posted_ev_ = nullptr;
  event* deferred_ev_ = nullptr;
  std::vector<evconnlistener*> evlisteners_;
  std::thread thread_;
  std::thread::id thread_id_;
  std::mutex post_mu_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::unique_ptr<Deletable>> deferred_;
  std::map<std::string, std::unique_ptr<ClusterPool>> pools_;
  int hook_depth_ = 0;
  std::vector<std::pair<std::unique_ptr<char[]>, size_t>> lent_;
  std::unordered_set<FilterSlot*> live_slots_;
  std::unordered_set<Deletable*> connections_;
  struct AcceptCtx {
    Worker* worker;
    ListenerRuntime* listener;
  };
  std::vector<std::unique_ptr<AcceptCtx>> accept_ctx_;
};

// RAII for one module hook invocation.
class HookScope {
 public:
  explicit HookScope(Worker* w) : w_(w) { w_->enterHook(); }
  ~HookScope() { w_->leaveHook(); }
  HookScope(const HookScope&) = delete;
  HookScope& operator=(const HookScope&) = delete;

 private:
  Worker* w_;
};

}  // namespace host
