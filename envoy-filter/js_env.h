// One Node environment and the runtime in it. Inside Envoy (embedded_env.cc) each worker thread gets its
// own, created on that thread the first time a stream needs it; the main thread has one for config-time
// validation. The test kit's addon (native/kit) attaches one to the Node process that loaded it. An environment is
// only ever touched on its own thread (invariant 1) and destroyed there (invariant 5). Configs Envoy
// destroyed are unloaded by each environment on its own thread: the main thread's at once, a worker's
// when it next makes a stream or runs its loop (configGone, pruneRetired).
#pragma once
#include <node.h>
#include <node_api.h>
#include <uv.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "envoy-filter/loop_pump.h"
#include "envoy-filter/watchdog.h"
#include "envoy-filter/outcome.h"
#include "native/generated/runtime_api.gen.h"

namespace nodevoy {

class StreamFilter;
class FilterConfig;

// A JS value as a string, for error messages.
std::string describeJs(napi_env env, napi_value v);

// An N-API handle scope for native code that makes JS values outside a JS call.
class NapiScope {
 public:
  explicit NapiScope(napi_env env) : env_(env) { napi_open_handle_scope(env_, &scope_); }
  ~NapiScope() { napi_close_handle_scope(env_, scope_); }
  NapiScope(const NapiScope&) = delete;
  NapiScope& operator=(const NapiScope&) = delete;

 private:
  napi_env env_;
  napi_handle_scope scope_ = nullptr;
};

class JsEnv {
 public:
  // The calling thread's environment, created on first use; null (with *error set) if it cannot be made.
  static JsEnv* forThisThread(bool worker, std::string* error);
  // Destroys the calling thread's environment (main thread, when the last filter config goes).
  static void releaseThisThread();
  // Destroys retired environments whose streams are all gone (worker thread).
  static void reapRetired();
  static JsEnv* from(napi_env env);
  // The test kit's addon: the environment of the Node process that loaded it (native/kit/kit_env.cc);
  // *binding is the NativeBinding object for lib/runtime.ts.
  static JsEnv* attach(napi_env env, napi_value* binding);
  // A filter or per-route config exists (main thread, before anything loads it).
  static void configCreated(uint64_t id);
  // Envoy destroyed a config (any thread). Every environment drops what it made of it on its own
  // thread; on the main thread its environment does so now, or goes when no config is left.
  static void configGone(uint64_t id);

  ~JsEnv();
  JsEnv(const JsEnv&) = delete;
  JsEnv& operator=(const JsEnv&) = delete;

  struct Instance {
    int index = -1;
    uint32_t handlers = 0;  // bit per Phase: the filter defines that handler
  };
  // The bootstrap's instance of a filter config in this environment, loading its bundle on first use:
  // from the config's validated text when it has one (workers), else from the file (the main thread at
  // config time, which gets the text and identity it loaded in *source and *identity). index is -1
  // (with *error set) on failure.
  Instance instanceFor(const FilterConfig& config, std::string* error, std::string* source = nullptr,
                       std::string* identity = nullptr);

  // The filter's metric declarations as JSON ([{kind, name, labels}]), main thread at config time.
  std::string metricsOf(int instance);
  // Validates a per-route config against the named filter's route schema (main thread, config time).
  bool checkRoute(const std::string& filter_name, const std::string& module, const std::string& json,
                  std::string* error);
  // Makes a per-route config known to an instance in this environment (parsed once per route).
  bool ensureRoute(int instance, uint64_t route, const std::string& json, std::string* error);

  // Calls into the bootstrap for a stream. Each returns what the handler came to.
  Outcome dispatch(Phase phase, int instance, uint32_t stream, uint64_t route);
  Outcome data(Phase phase, int instance, uint32_t stream, uint64_t route, napi_value chunks, bool end);
  void deliverBody(uint32_t stream, int direction, napi_value bytes);
  void calloutDone(uint32_t stream, uint64_t callout, uint32_t result, napi_value headers, napi_value body);
  void closed(uint32_t stream);
  // A completed stream nothing in JS waits on: JS forgets it at its next call.
  void closeLater(uint32_t stream);

  uint32_t addStream(StreamFilter* s);
  void removeStream(uint32_t id);
  StreamFilter* stream(uint32_t id) const;

  // Called as every hook returns: runs the loop if work is due and re-arms the pump.
  void afterHook();
  // The scheduled pump event: run what libuv has ready.
  void runLoop();
  LoopPump* pump() { return pump_.get(); }
  bool alive() const { return !exited_; }

  // The async context of the next calls into JS (the kit: the caller's, so its async-local state
  // follows); null restores the environment's own.
  void useAsyncContext(napi_async_context context) { call_async_ = context; }

  // From the binding.
  void registerApi(napi_value api);
  napi_env napi() const { return napi_; }
  v8::Isolate* isolate() const { return isolate_; }
  int workerIndex() const { return worker_index_; }
  // The synchronous time budget of the next calls into JS (the running filter's sync_budget_ms).
  void setSyncBudget(uint32_t ms) { budget_ms_ = ms; }
  // The last call into JS was stopped by the watchdog.
  bool lastCallTerminated() const { return terminated_; }
  // Accounting of body bytes copied into the JS heap (tests and the price list check views copy none).
  void countCopied(size_t n) { copied_ += n; }
  uint64_t bytesCopiedToJs() const { return copied_; }
  void setWorkerIndex(int i) { worker_index_ = i; }

 private:
  JsEnv() = default;
  bool create(bool worker, std::string* error);
  void retire();
  // Envoy destroyed a config: forgets its id; true if no config is left.
  static bool forgetConfig(uint64_t id);
  // One turn of the environment's loop while a load waits; false if this environment cannot turn it.
  bool turnLoop();
  // Unloads the instances and per-route configs of configs Envoy destroyed since the last look. On every
  // entry that may load or run JS; costs one atomic load when nothing changed.
  void pruneRetired();
  napi_value callApi(RuntimeFn fn, size_t argc, const napi_value* argv, std::string* error);
  // A call into the runtime, its argument count checked against native/binding.spec.json at compile time.
  template <RuntimeFn F, size_t N>
  napi_value call(const napi_value (&argv)[N], std::string* error) {
    static_assert(N == arity(F), "argument count differs from the runtime call's in native/binding.spec.json");
    return callApi(F, N, argv, error);
  }
  // Runs the loop until a LoadState-shaped object reports done; false (with *error) on failure.
  bool waitLoaded(napi_value state, const std::string& what, std::string* error);
  Outcome toOutcome(napi_value r, const char* what, const std::string& error);
  napi_value num(double v);
  napi_value str(const std::string& s);
  // A string property of a JS object, '' if it is not a string.
  std::string stringField(napi_value object, const char* name);
  static napi_value initBinding(napi_env env, napi_value exports);
  static size_t nearHeapLimit(void* data, size_t current_limit, size_t initial_limit);

  node::MultiIsolatePlatform* platform_ = nullptr;  // the process's (node_process.h)
  std::unique_ptr<node::CommonEnvironmentSetup> setup_;
  v8::Isolate* isolate_ = nullptr;
  std::unique_ptr<v8::Locker> locker_;
  std::unique_ptr<v8::Isolate::Scope> isolate_scope_;
  // V8 forbids heap-allocating scopes with new; they live in place here, entered for the env's life.
  std::optional<v8::HandleScope> handle_scope_;
  std::optional<v8::Context::Scope> context_scope_;
  napi_env napi_ = nullptr;
  napi_ref api_ = nullptr;
  napi_ref fns_[kRuntimeFnCount] = {};
  napi_async_context async_ = nullptr;
  napi_async_context call_async_ = nullptr;
  uv_async_t keepalive_{};
  bool keepalive_open_ = false;
  std::unique_ptr<LoopPump> pump_;
  std::unique_ptr<Watchdog> watchdog_;
  uint32_t budget_ms_ = 250;
  bool terminated_ = false;  // the last call was stopped by the watchdog
  std::unordered_map<uint32_t, StreamFilter*> streams_;
  uint32_t next_stream_ = 1;
  std::map<uint64_t, Instance> instances_;     // by filter config id
  std::set<std::pair<int, uint64_t>> routes_;  // (instance, per-route config id) already parsed in JS
  int worker_index_ = -1;
  bool worker_ = false;
  uint64_t seen_generation_ = 0;  // of the live-config set (js_env.cc), as of the last pruneRetired
  uint64_t copied_ = 0;
  uint32_t* closed_ids_ = nullptr;  // the api's closedIds Uint32Array; kept alive by api_
  uint32_t closed_capacity_ = 0;
  bool exited_ = false;   // process.exit() was called: the environment runs no more JS
  bool retired_ = false;  // replaced by a fresh environment on this thread; scopes left
};

}  // namespace nodevoy
