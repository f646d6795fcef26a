// The environment's calls into the runtime (lib/runtime.ts) and what it keeps of them: filter instances,
// per-route configs, streams, the closed-stream batch. Whoever made the Node environment supplies the
// rest (embedded_env.cc inside Envoy, native/kit/kit_env.cc in the test kit's addon).
#include "envoy-filter/js_env.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>
#include <vector>

#include "envoy-filter/filter_config.h"
#include "envoy-filter/log.h"
#include "envoy-filter/stream_filter.h"

namespace nodevoy {

namespace {

// The configs Envoy holds, filter and per-route, by id. Envoy may destroy a config on any thread, and a
// worker's environment may only be touched on that worker: a destroy takes the id out and moves the
// generation; each environment, on its own thread, unloads what it made for ids no longer here when it
// sees the generation move (JsEnv::pruneRetired). A set of live ids stays as small as Envoy's config.
std::mutex g_live_mu;
std::set<uint64_t> g_live_ids;
std::atomic<uint64_t> g_live_generation{0};

// Loading a bundle runs its module code (npm dependencies included): a longer budget than a handler's.
class LoadBudget {
 public:
  explicit LoadBudget(uint32_t& budget) : budget_(budget), saved_(budget) { budget_ = 10000; }
  ~LoadBudget() { budget_ = saved_; }
  LoadBudget(const LoadBudget&) = delete;
  LoadBudget& operator=(const LoadBudget&) = delete;

 private:
  uint32_t& budget_;
  uint32_t saved_;
};

}  // namespace

std::string describeJs(napi_env env, napi_value v) {
  napi_value s;
  if (napi_coerce_to_string(env, v, &s) != napi_ok) return "(unprintable)";
  size_t len = 0;
  napi_get_value_string_utf8(env, s, nullptr, 0, &len);
  std::string out(len, '\0');
  napi_get_value_string_utf8(env, s, out.data(), len + 1, &len);
  return out;
}

void JsEnv::configCreated(uint64_t id) {
  std::lock_guard lock(g_live_mu);
  g_live_ids.insert(id);
}

bool JsEnv::forgetConfig(uint64_t id) {
  std::lock_guard lock(g_live_mu);
  g_live_ids.erase(id);
  g_live_generation.fetch_add(1, std::memory_order_release);
  return g_live_ids.empty();
}

void JsEnv::pruneRetired() {
  const uint64_t generation = g_live_generation.load(std::memory_order_acquire);
  if (generation == seen_generation_) return;
  seen_generation_ = generation;
  std::vector<uint64_t> configs;
  std::vector<std::pair<int, uint64_t>> routes;
  {
    std::lock_guard lock(g_live_mu);
    for (const auto& [id, inst] : instances_)
      if (!g_live_ids.contains(id)) configs.push_back(id);
    for (const auto& r : routes_)
      if (!g_live_ids.contains(r.second)) routes.push_back(r);
  }
  if (configs.empty() && routes.empty()) return;
  std::set<int> gone;  // instance indexes unloaded now: their per-route entries go with them
  for (uint64_t id : configs) gone.insert(instances_[id].index);
  const auto started = std::chrono::steady_clock::now();
  if (!exited_) {
    NapiScope scope(napi_);
    LoadBudget budget(budget_ms_);
    for (const auto& [instance, route] : routes) {
      if (gone.contains(instance)) continue;
      napi_value argv[2] = {num(instance), num(static_cast<double>(route))};
      std::string error;
      if (!call<RuntimeFn::Unroute>(argv, &error)) logError("nodevoy: dropping a per-route config failed: " + error);
    }
    for (int index : gone) {
      napi_value args[1] = {num(index)};
      std::string error;
      if (!call<RuntimeFn::Unload>(args, &error)) logError("nodevoy: unloading a filter instance failed: " + error);
    }
  }
  for (uint64_t id : configs) instances_.erase(id);
  for (const auto& r : routes) routes_.erase(r);
  std::erase_if(routes_, [&](const std::pair<int, uint64_t>& r) { return gone.contains(r.first); });
  if (gone.empty() || exited_) return;
  // What the instances held is garbage now, but V8 collects its old generation only under allocation
  // pressure, and the main thread's environment runs no JS between configs, a quiet worker little:
  // measured on Envoy 1.40, a worker kept a retired instance's 64 MB for 10 s and more under light
  // traffic, and incremental marking (moderate memory pressure) did not finish on a quiet worker. So
  // collect now, whenever instances were unloaded: critical memory pressure is one memory-reducing full
  // GC on this thread (28-92 ms measured on a busy 2-core machine; LowMemoryNotification, which repeats
  // full GCs until nothing more is freed, took 22-183 ms).
  const auto unloaded = std::chrono::steady_clock::now();
  isolate()->MemoryPressureNotification(v8::MemoryPressureLevel::kCritical);
  const auto ms = [](auto a, auto b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f ms", std::chrono::duration<double, std::milli>(b - a).count());
    return std::string(buf);
  };
  logInfo("nodevoy: " + std::string(worker_ ? "a worker's" : "the main thread's") + " environment unloaded " +
          std::to_string(gone.size()) + " filter instance(s) of destroyed configs in " + ms(started, unloaded) +
          ", GC " + ms(unloaded, std::chrono::steady_clock::now()));
}

JsEnv* JsEnv::from(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<JsEnv*>(data);
}

void JsEnv::registerApi(napi_value api) {
  napi_create_reference(napi_, api, 1, &api_);
  // The batch of completed streams JS has not been told about: [count, id, id, ...] (see closeLater).
  napi_value ids;
  napi_get_named_property(napi_, api, "closedIds", &ids);
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(napi_, ids, &type, &length, &data, nullptr, nullptr) == napi_ok &&
      type == napi_uint32_array && length > 1) {
    closed_ids_ = static_cast<uint32_t*>(data);
    closed_capacity_ = static_cast<uint32_t>(length - 1);
  }
  for (int i = 0; i < kRuntimeFnCount; i++) {
    napi_value fn;
    napi_valuetype type = napi_undefined;
    napi_get_named_property(napi_, api, kRuntimeFnNames[i], &fn);
    napi_typeof(napi_, fn, &type);
    // A runtime (NODEVOY_RUNTIME) older than this module lacks the newer calls: those are skipped.
    if (type == napi_function) napi_create_reference(napi_, fn, 1, &fns_[i]);
  }
  napi_value name;
  napi_create_string_utf8(napi_, "nodevoy", NAPI_AUTO_LENGTH, &name);
  napi_async_init(napi_, nullptr, name, &async_);
}

napi_value JsEnv::num(double v) {
  napi_value out;
  napi_create_double(napi_, v, &out);
  return out;
}

napi_value JsEnv::callApi(RuntimeFn fn_id, size_t argc, const napi_value* argv, std::string* error) {
  const int which = static_cast<int>(fn_id);
  napi_value recv, fn, result = nullptr;
  if (!fns_[which]) {
    if (error) *error = "the nodevoy runtime lacks this call (is NODEVOY_RUNTIME older than the module?)";
    return nullptr;
  }
  napi_get_reference_value(napi_, api_, &recv);
  napi_get_reference_value(napi_, fns_[which], &fn);
  // make_callback: on return Node runs process.nextTick callbacks and drains microtasks, so an
  // `await` that needs no I/O settles before the hook returns.
  WatchdogScope watchdog(watchdog_.get(), budget_ms_);
  napi_status status = napi_make_callback(napi_, call_async_ ? call_async_ : async_, recv, fn, argc, argv, &result);
  terminated_ = watchdog.terminated();  // cancels the termination before anything else runs JS
  if (terminated_) {
    bool pending = false;
    napi_is_exception_pending(napi_, &pending);
    if (pending) {
      napi_value exc;
      napi_get_and_clear_last_exception(napi_, &exc);
    }
    if (error)
      *error = "JS ran past its synchronous time budget of " + std::to_string(budget_ms_) + " ms and was stopped";
    return nullptr;
  }
  if (status != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(napi_, &pending);
    if (pending) {
      napi_value exc;
      napi_get_and_clear_last_exception(napi_, &exc);
      if (error) *error = describeJs(napi_, exc);
    } else if (error) {
      *error = exited_ ? "the environment has stopped (process.exit)" : "the call into JS failed";
    }
    return nullptr;
  }
  return result;
}

bool JsEnv::waitLoaded(napi_value state, const std::string& what, std::string* error) {
  auto field = [&](const char* name) {
    napi_value v;
    napi_get_named_property(napi_, state, name, &v);
    return v;
  };
  // ESM bundles load asynchronously: run this environment's loop until the load settles.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    bool done = false;
    napi_get_value_bool(napi_, field("done"), &done);
    if (done) break;
    if (exited_ || std::chrono::steady_clock::now() > deadline) {
      *error =
          exited_ ? "process.exit() called while loading " + what : "loading " + what + " did not finish within 30 s";
      return false;
    }
    if (!turnLoop()) {
      *error = "loading " + what + " needs more event-loop turns than this environment can give it";
      return false;
    }
  }
  napi_value err = field("error");
  napi_valuetype t;
  napi_typeof(napi_, err, &t);
  if (t == napi_string) {
    std::string e = describeJs(napi_, err);
    if (!e.empty()) {
      *error = e;
      return false;
    }
  }
  return true;
}

napi_value JsEnv::str(const std::string& s) {
  napi_value v;
  napi_create_string_utf8(napi_, s.data(), s.size(), &v);
  return v;
}

JsEnv::Instance JsEnv::instanceFor(const FilterConfig& config, std::string* error, std::string* source,
                                   std::string* identity) {
  if (auto it = instances_.find(config.id()); it != instances_.end()) {
    const Instance inst = it->second;
    pruneRetired();
    return inst;
  }
  if (exited_) {
    *error = "the environment has stopped (process.exit)";
    return {};
  }
  Instance inst;
  {
    NapiScope scope(napi_);
    LoadBudget budget(budget_ms_);
    napi_value undefined;
    napi_get_undefined(napi_, &undefined);
    const BundleText& bundle = config.bundle();
    napi_value argv[6] = {str(config.modulePath()),
                          str(config.filterName()),
                          str(config.userConfigJson()),
                          num(config.asyncBudgetMs()),
                          bundle.source ? str(*bundle.source) : undefined,
                          bundle.identity.empty() ? undefined : str(bundle.identity)};
    napi_value state = call<RuntimeFn::Load>(argv, error);
    if (!state || !waitLoaded(state, config.modulePath(), error)) return {};
    napi_value v;
    napi_get_named_property(napi_, state, "index", &v);
    napi_get_value_int32(napi_, v, &inst.index);
    napi_get_named_property(napi_, state, "handlers", &v);
    napi_get_value_uint32(napi_, v, &inst.handlers);
    if (inst.index < 0) {
      *error = "the bundle loaded but produced no filter";
      return {};
    }
    if (source) *source = stringField(state, "source");
    if (identity) *identity = stringField(state, "identity");
  }
  instances_[config.id()] = inst;
  // After the load: a bundle the new instance shares with a retired one stays cached (and its module
  // state with it) instead of being dropped and compiled again.
  pruneRetired();
  return inst;
}

std::string JsEnv::stringField(napi_value object, const char* name) {
  napi_value v;
  napi_valuetype type = napi_undefined;
  if (napi_get_named_property(napi_, object, name, &v) != napi_ok || napi_typeof(napi_, v, &type) != napi_ok ||
      type != napi_string)
    return {};
  size_t len = 0;
  napi_get_value_string_utf8(napi_, v, nullptr, 0, &len);
  std::string out(len, '\0');
  napi_get_value_string_utf8(napi_, v, out.data(), len + 1, &len);
  return out;
}

std::string JsEnv::metricsOf(int instance) {
  NapiScope scope(napi_);
  napi_value args[1] = {num(instance)};
  std::string error;
  napi_value r = call<RuntimeFn::Metrics>(args, &error);
  return r ? describeJs(napi_, r) : "[]";
}

bool JsEnv::checkRoute(const std::string& filter_name, const std::string& module, const std::string& json,
                       std::string* error) {
  if (exited_) {
    *error = "the environment has stopped (process.exit)";
    return false;
  }
  NapiScope scope(napi_);
  LoadBudget budget(budget_ms_);
  napi_value argv[3] = {str(filter_name), str(module), str(json)};
  napi_value state = call<RuntimeFn::CheckRoute>(argv, error);
  return state && waitLoaded(state, module.empty() ? "filter " + filter_name : module, error);
}

bool JsEnv::ensureRoute(int instance, uint64_t route, const std::string& json, std::string* error) {
  if (routes_.count({instance, route})) return true;
  NapiScope scope(napi_);
  napi_value argv[3] = {num(instance), num(static_cast<double>(route)), str(json)};
  napi_value r = call<RuntimeFn::Route>(argv, error);
  if (!r) return false;
  std::string e = describeJs(napi_, r);
  if (!e.empty()) {
    *error = e;
    return false;
  }
  routes_.insert({instance, route});
  return true;
}

Outcome JsEnv::toOutcome(napi_value r, const char* what, const std::string& error) {
  if (!r && terminated_) {
    logError(std::string("nodevoy: ") + what + ": " + error);
    return Outcome::Timeout;
  }
  if (!r) {
    logError(std::string("nodevoy: ") + what + " failed: " + error);
    return Outcome::Failed;
  }
  uint32_t out = static_cast<uint32_t>(Outcome::Failed);
  napi_get_value_uint32(napi_, r, &out);
  return static_cast<Outcome>(out);
}

Outcome JsEnv::dispatch(Phase phase, int instance, uint32_t stream, uint64_t route) {
  if (exited_) return Outcome::Failed;
  NapiScope scope(napi_);
  napi_value argv[4] = {num(static_cast<uint32_t>(phase)), num(instance), num(stream), num(static_cast<double>(route))};
  std::string error;
  return toOutcome(call<RuntimeFn::Dispatch>(argv, &error), "dispatch", error);
}

Outcome JsEnv::data(Phase phase, int instance, uint32_t stream, uint64_t route, napi_value chunks, bool end) {
  if (exited_) return Outcome::Failed;
  napi_value argv[6] = {num(static_cast<uint32_t>(phase)), num(instance), num(stream),
                        num(static_cast<double>(route)),   chunks,        nullptr};
  napi_get_boolean(napi_, end, &argv[5]);
  std::string error;
  return toOutcome(call<RuntimeFn::Data>(argv, &error), "data dispatch", error);
}

void JsEnv::deliverBody(uint32_t stream, int direction, napi_value bytes) {
  if (exited_) return;
  napi_value argv[3] = {num(stream), num(direction), bytes};
  std::string error;
  if (!call<RuntimeFn::Body>(argv, &error)) logError("nodevoy: body delivery failed: " + error);
}

void JsEnv::calloutDone(uint32_t stream, uint64_t callout, uint32_t result, napi_value headers, napi_value body) {
  if (exited_) return;
  napi_value argv[5] = {num(stream), num(static_cast<double>(callout)), num(result), headers, body};
  std::string error;
  if (!call<RuntimeFn::Callout>(argv, &error)) logError("nodevoy: callout delivery failed: " + error);
}

void JsEnv::closed(uint32_t stream) {
  if (exited_) return;
  NapiScope scope(napi_);
  napi_value args[1] = {num(stream)};
  call<RuntimeFn::Closed>(args, nullptr);
}

void JsEnv::closeLater(uint32_t stream) {
  if (exited_) return;
  if (!closed_ids_) {
    closed(stream);
    return;
  }
  // Most streams need no JS at completion (nothing awaits, no signal was asked for): JS drops them
  // when it next runs instead of a call per stream. The array is the api's, read at every dispatch.
  uint32_t& count = closed_ids_[0];
  if (count == closed_capacity_) closed(0);  // full: JS reaps the batch now
  closed_ids_[1 + count++] = stream;
}

uint32_t JsEnv::addStream(StreamFilter* s) {
  uint32_t id = next_stream_++;
  if (next_stream_ == 0) next_stream_ = 1;
  streams_[id] = s;
  return id;
}

void JsEnv::removeStream(uint32_t id) {
  streams_.erase(id);
}

StreamFilter* JsEnv::stream(uint32_t id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second;
}

}  // namespace nodevoy
