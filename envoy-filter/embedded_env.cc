// The environment embedded in Envoy: one Node environment per thread, made with libnode on first use,
// its loop run by the worker's LoopPump; retired after process.exit() or at the heap limit.
#include <atomic>
#include <chrono>
#include <mutex>
#include <vector>

#include "envoy-filter/js_env.h"
#include "envoy-filter/log.h"
#include "envoy-filter/node_process.h"
#include "envoy-filter/stream_filter.h"
#include "native/generated/binding.gen.h"

namespace nodevoy {

namespace {

thread_local std::unique_ptr<JsEnv> t_env;
// Environments replaced after process.exit(), kept until the streams they held are gone.
thread_local std::vector<std::unique_ptr<JsEnv>> t_retired;
thread_local JsEnv* t_creating = nullptr;

std::string quoteJs(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

JsEnv* JsEnv::forThisThread(bool worker, std::string* error) {
  if (t_env && t_env->exited_ && worker) {
    // process.exit() stopped this worker's environment: retire it (its streams fail per policy) and
    // serve new streams from a fresh one.
    t_env->retire();
    t_retired.push_back(std::move(t_env));
  }
  if (t_env) return t_env.get();
  std::unique_ptr<JsEnv> env(new JsEnv());  // private constructor: only this factory makes environments
  if (!env->create(worker, error)) return nullptr;
  t_env = std::move(env);
  return t_env.get();
}

void JsEnv::releaseThisThread() {
  t_env.reset();
  t_retired.clear();
}

void JsEnv::configGone(uint64_t id) {
  const bool none_left = forgetConfig(id);
  // Only the main thread's validation environment acts now (Envoy destroys configs there, after their
  // last stream). A worker's waits for its next stream or loop turn: this may be a worker running
  // Envoy's teardown of something else, where no JS should start.
  if (!t_env || t_env->worker_) return;
  if (none_left)
    releaseThisThread();  // no config left to validate against: the environment goes
  else
    t_env->pruneRetired();
}

void JsEnv::reapRetired() {
  std::erase_if(t_retired, [](const std::unique_ptr<JsEnv>& e) { return e->streams_.empty(); });
}

size_t JsEnv::nearHeapLimit(void* data, size_t current_limit, size_t) {
  // The heap is about to run out: stop the running JS, fail the streams this environment holds and
  // let a fresh environment take the worker's next streams. The extra room lets this one wind down.
  auto* self = static_cast<JsEnv*>(data);
  if (!self->exited_) {
    self->exited_ = true;
    logError("nodevoy: a Node.js environment reached its heap limit (" + std::to_string(current_limit >> 20) +
             " MB); its JS is stopped and a fresh environment serves new streams");
    self->setup_->isolate()->TerminateExecution();
    for (auto& [id, s] : self->streams_) s->environmentGone();
  }
  return current_limit + (64u << 20);
}

void JsEnv::retire() {
  // Leave the isolate so the next environment can enter its own; the destructor re-enters it.
  context_scope_.reset();
  handle_scope_.reset();
  isolate_scope_.reset();
  locker_.reset();
  retired_ = true;
}

napi_value JsEnv::initBinding(napi_env env, napi_value exports) {
  JsEnv* self = t_creating;
  if (!self) return exports;  // a second environment kind we did not create: expose nothing
  self->napi_ = env;
  napi_set_instance_data(env, self, nullptr, nullptr);
  return nodevoy::binding::Init(Napi::Env(env), Napi::Object(env, exports));
}

bool JsEnv::create(bool worker, std::string* error) {
  platform_ = nodePlatform(error);
  if (!platform_) return false;
  std::lock_guard lock(environmentCreationMutex());
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> errors;
  setup_ = node::CommonEnvironmentSetup::Create(platform_, &errors, std::vector<std::string>{"nodevoy"},
                                                std::vector<std::string>{}, node::EnvironmentFlags::kNoFlags);
  if (!setup_) {
    *error = "cannot create a Node.js environment";
    for (const auto& e : errors) *error += ": " + e;
    return false;
  }
  worker_ = worker;
  v8::Isolate* isolate = setup_->isolate();
  isolate_ = isolate;
  // Kept entered for the environment's life: it only ever runs on this thread (saves ~70 ns a call).
  locker_ = std::make_unique<v8::Locker>(isolate);
  isolate_scope_ = std::make_unique<v8::Isolate::Scope>(isolate);
  handle_scope_.emplace(isolate);
  context_scope_.emplace(setup_->context());

  node::AddLinkedBinding(setup_->env(), "nodevoy", &JsEnv::initBinding, NAPI_VERSION);
  node::SetProcessExitHandler(setup_->env(), [this](node::Environment* env, int code) {
    // process.exit() must not end Envoy: this environment stops running JS instead.
    exited_ = true;
    logError("nodevoy: process.exit(" + std::to_string(code) +
             ") called by filter code; this worker's environment stops"
             " and a fresh one serves new streams");
    node::Stop(env);
    pump_.reset();                                        // nothing runs this loop any more
    for (auto& [id, s] : streams_) s->environmentGone();  // parked streams fail per policy, from their own hooks
  });

  const std::string path = bootstrapPath();
  const std::string script = "const p = " + quoteJs(path) + "; require('module').createRequire(p)(p);";
  t_creating = this;
  v8::TryCatch try_catch(isolate);
  auto loaded = node::LoadEnvironment(setup_->env(), script.c_str());
  t_creating = nullptr;
  if (loaded.IsEmpty() || try_catch.HasCaught() || !api_) {
    *error = "cannot start the nodevoy runtime from " + path;
    if (try_catch.HasCaught()) {
      v8::String::Utf8Value msg(isolate, try_catch.Exception());
      if (*msg) *error += std::string(": ") + *msg;
    }
    return false;
  }
  // A ref'ed handle keeps the loop alive, so uv_backend_timeout reports real timer deadlines.
  uv_async_init(setup_->event_loop(), &keepalive_, [](uv_async_t*) {});
  keepalive_open_ = true;
  if (worker) pump_ = std::make_unique<LoopPump>(setup_->event_loop());
  watchdog_ = std::make_unique<Watchdog>(isolate);
  isolate->AddNearHeapLimitCallback(&JsEnv::nearHeapLimit, this);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  logInfo("nodevoy: Node.js environment ready on " + std::string(worker ? "a worker" : "the main thread") + " in " +
          std::to_string(ms) + " ms");
  return true;
}

JsEnv::~JsEnv() {
  pump_.reset();  // join the helpers before the loop and isolate go
  watchdog_.reset();
  // A retired environment left its isolate for the next one: enter it again for the teardown.
  std::optional<v8::Locker> locker;
  std::optional<v8::Isolate::Scope> isolate_scope;
  std::optional<v8::HandleScope> handle_scope;
  std::optional<v8::Context::Scope> context_scope;
  if (retired_ && setup_) {
    locker.emplace(setup_->isolate());
    isolate_scope.emplace(setup_->isolate());
    handle_scope.emplace(setup_->isolate());
    context_scope.emplace(setup_->context());
  }
  if (setup_) {
    if (keepalive_open_) uv_close(reinterpret_cast<uv_handle_t*>(&keepalive_), nullptr);
    {
      NapiScope scope(napi_);
      if (api_) napi_delete_reference(napi_, api_);
      for (napi_ref r : fns_)
        if (r) napi_delete_reference(napi_, r);
      if (async_) napi_async_destroy(napi_, async_);
    }
    node::Stop(setup_->env());
  }
  context_scope_.reset();
  handle_scope_.reset();
  isolate_scope_.reset();
  locker_.reset();
  context_scope.reset();
  handle_scope.reset();
  isolate_scope.reset();
  locker.reset();
  setup_.reset();
}

void JsEnv::afterHook() {
  if (!pump_ || exited_) return;
  if (pump_->due())
    runLoop();
  else
    pump_->retime(uv_backend_timeout(setup_->event_loop()));
}

void JsEnv::runLoop() {
  if (exited_) return;
  pruneRetired();
  {
    WatchdogScope watchdog(watchdog_.get(), budget_ms_);
    uv_run(setup_->event_loop(), UV_RUN_NOWAIT);
    if (watchdog.terminated())
      logError("nodevoy: JS run from the event loop (a timer or I/O callback) ran past " + std::to_string(budget_ms_) +
               " ms and was stopped");
  }
  if (pump_) pump_->ran(uv_backend_timeout(setup_->event_loop()));
}

bool JsEnv::turnLoop() {
  uv_run(setup_->event_loop(), UV_RUN_ONCE);
  platform_->DrainTasks(isolate_);
  return true;
}

}  // namespace nodevoy
