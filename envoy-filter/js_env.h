// One embedded Node environment. Each Envoy worker thread gets its own, created on that thread the
// first time a stream needs it; the main thread has one for config-time validation. An environment is
// only ever touched on its own thread (invariant 1) and destroyed there (invariant 5).
#pragma once
#include <node.h>
#include <node_api.h>
#include <uv.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "envoy-filter/loop_pump.h"
#include "envoy-filter/outcome.h"

namespace nodevoy {

class StreamFilter;
class FilterConfig;

class JsEnv {
 public:
  // The calling thread's environment, created on first use; null (with *error set) if it cannot be made.
  static JsEnv* forThisThread(bool worker, std::string* error);
  // Destroys the calling thread's environment (main thread, when the last filter config goes).
  static void releaseThisThread();
  static JsEnv* from(napi_env env);

  ~JsEnv();
  JsEnv(const JsEnv&) = delete;
  JsEnv& operator=(const JsEnv&) = delete;

  struct Instance {
    int index = -1;
    uint32_t handlers = 0;  // bit per Phase: the filter defines that handler
  };
  // The bootstrap's instance of a filter config in this environment, loading its bundle on first use.
  // index is -1 (with *error set) on failure.
  Instance instanceFor(const FilterConfig& config, std::string* error);

  Outcome dispatch(Phase phase, int instance, uint32_t stream);
  void closed(uint32_t stream);

  uint32_t addStream(StreamFilter* s);
  void removeStream(uint32_t id);
  StreamFilter* stream(uint32_t id) const;

  // Called as every hook returns: runs the loop if work is due and re-arms the pump.
  void afterHook();
  // The scheduled pump event: run what libuv has ready.
  void runLoop();
  LoopPump* pump() { return pump_.get(); }
  bool alive() const { return !exited_; }

  // From the binding.
  void registerApi(napi_value api);
  napi_env napi() const { return napi_; }
  int workerIndex() const { return worker_index_; }
  void setWorkerIndex(int i) { worker_index_ = i; }

 private:
  JsEnv() = default;
  bool create(bool worker, std::string* error);
  napi_value callApi(napi_ref fn, size_t argc, const napi_value* argv, std::string* error);
  static napi_value initBinding(napi_env env, napi_value exports);

  std::unique_ptr<node::CommonEnvironmentSetup> setup_;
  std::unique_ptr<v8::Locker> locker_;
  std::unique_ptr<v8::Isolate::Scope> isolate_scope_;
  // V8 forbids heap-allocating scopes with new; they live in place here, entered for the env's life.
  std::optional<v8::HandleScope> handle_scope_;
  std::optional<v8::Context::Scope> context_scope_;
  napi_env napi_ = nullptr;
  napi_ref api_ = nullptr, dispatch_ = nullptr, closed_ = nullptr, load_ = nullptr;
  napi_async_context async_ = nullptr;
  uv_async_t keepalive_{};
  bool keepalive_open_ = false;
  std::unique_ptr<LoopPump> pump_;
  std::unordered_map<uint32_t, StreamFilter*> streams_;
  uint32_t next_stream_ = 1;
  std::map<uint64_t, Instance> instances_;  // by filter config id
  int worker_index_ = -1;
  bool exited_ = false;  // process.exit() was called: the environment runs no more JS
};

}  // namespace nodevoy
