// A test-only switch: NODEVOY_TEST_THROW_IN=<hook>[,<hook>...] in Envoy's environment makes those hooks
// throw a C++ exception on entry, so tests can show that every hook that catches one still answers its
// stream (no hang). Hook names as in module.cc: request_headers, request_body, response_body, scheduled...
// Read once per process; unset (the normal case) it costs one branch per hook.
#pragma once
#include <string_view>

namespace nodevoy {

// Throws std::runtime_error when `hook` is listed in NODEVOY_TEST_THROW_IN.
void maybeInjectFault(std::string_view hook);

}  // namespace nodevoy
