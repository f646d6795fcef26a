// The environment the test kit's addon attaches to: the Node process that loaded it, on its main thread.
// Node runs its loop; the module never turns it (no LoopPump), so a load must finish within the calls
// that start it (the kit imports ES modules ahead, see lib/testing/native.ts).
#include <memory>

#include "envoy-filter/js_env.h"
#include "envoy-filter/stream_filter.h"
#include "native/generated/binding.gen.h"

namespace nodevoy {

namespace {
// One per process: the kit runs in one Node environment (its main thread).
std::unique_ptr<JsEnv> g_attached;
napi_ref g_binding = nullptr;
}  // namespace

JsEnv* JsEnv::attach(napi_env env, napi_value* binding) {
  if (!g_attached) {
    std::unique_ptr<JsEnv> self(new JsEnv());  // private constructor: only the makers make environments
    self->napi_ = env;
    self->isolate_ = v8::Isolate::GetCurrent();
    self->worker_ = true;
    self->watchdog_ = std::make_unique<Watchdog>(self->isolate_);
    napi_set_instance_data(env, self.get(), nullptr, nullptr);
    napi_value exports;
    napi_create_object(env, &exports);
    napi_value made = nodevoy::binding::Init(Napi::Env(env), Napi::Object(env, exports));
    napi_create_reference(env, made, 1, &g_binding);
    g_attached = std::move(self);
  }
  napi_get_reference_value(env, g_binding, binding);
  return g_attached.get();
}

JsEnv* JsEnv::forThisThread(bool, std::string* error) {
  if (!g_attached) *error = "the test kit's environment is not attached";
  return g_attached.get();
}

void JsEnv::releaseThisThread() {}

void JsEnv::reapRetired() {}

void JsEnv::configGone(uint64_t id) {
  forgetConfig(id);
  if (g_attached) g_attached->pruneRetired();
}

JsEnv::~JsEnv() {
  watchdog_.reset();
}

bool JsEnv::turnLoop() {
  return false;
}

void JsEnv::afterHook() {}

void JsEnv::runLoop() {}

}  // namespace nodevoy
