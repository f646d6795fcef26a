// The test kit's addon: the module's own C++ (module.cc, the stream core, the binding) running in the
// test's Node process against a fake Envoy written in TypeScript (lib/testing/fake-envoy.ts). Envoy's
// side of the ABI, the callbacks, is kit_abi.cc: each one calls a method of that fake.
#pragma once
#include <node_api.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace nodevoy::kit {

// The fake Envoy, set once by attach().
void setFake(napi_env env, napi_value fake);

// Calls fake[method](...args); returns undefined (and keeps the error for the running operation) if it threw.
napi_value callFake(const char* method, size_t argc, const napi_value* argv);
template <size_t N>
napi_value callFake(const char* method, const napi_value (&argv)[N]) {
  return callFake(method, N, argv);
}

// The error a fake method threw since the last take (null if none); the operation that ran it rejects with it.
napi_value takeError();

// Who the running operation is for (a number the kit chose: its filter), passed to log calls; 0 outside one.
void setOwner(double owner);

// Bytes handed to the module as an envoy_buffer stay valid until the next operation starts (Envoy keeps
// them valid for the hook).
std::string_view keep(std::string bytes);
void releaseKept();

}  // namespace nodevoy::kit
