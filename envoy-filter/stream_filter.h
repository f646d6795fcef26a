// One stream's native state (per-stream lifetime): its JS stream id, whether a handler is parked, the
// reply a handler recorded, and the scheduler that brings a settled handler back onto the worker.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "envoy-filter/envoy_abi.h"
#include "envoy-filter/outcome.h"

namespace nodevoy {

class FilterConfig;
class JsEnv;

struct RecordedReply {
  uint32_t status = 500;
  std::vector<std::string> headers;  // flat name, value, ...
  std::string body;
  std::string details;
};

class StreamFilter {
 public:
  StreamFilter(const FilterConfig& config, envoy_dynamic_module_type_http_filter_envoy_ptr envoy);
  ~StreamFilter();  // from on_http_filter_destroy
  StreamFilter(const StreamFilter&) = delete;
  StreamFilter& operator=(const StreamFilter&) = delete;

  // Headers hooks. Returns the ABI status value (the request and response enums share their numbers).
  int onHeaders(Phase phase);
  void onScheduled(uint64_t event_id);
  void onStreamComplete();

  // From the binding (JS, on this worker).
  envoy_dynamic_module_type_http_filter_envoy_ptr envoy() const { return envoy_; }
  bool completed() const { return completed_; }
  void recordReply(RecordedReply reply) { reply_ = std::move(reply); }
  void settle(Outcome outcome);

 private:
  int finish(Phase phase, Outcome outcome, bool in_hook);
  void sendFailure(const std::string& details);

  envoy_dynamic_module_type_http_filter_envoy_ptr envoy_;
  JsEnv* env_ = nullptr;
  int instance_ = -1;
  uint32_t handlers_ = 0;           // which phases have a JS handler; the others cost no JS call
  bool touched_ = false;           // JS has a stream object to close
  uint32_t id_ = 0;
  envoy_dynamic_module_type_http_filter_scheduler_module_ptr scheduler_ = nullptr;
  std::optional<Phase> parked_;      // a handler of this phase is awaiting; the stream is stopped
  std::optional<Outcome> settled_;   // what the awaited handler came to
  std::optional<RecordedReply> reply_;
  bool completed_ = false;
  std::string unavailable_;          // why this stream has no JS (environment or bundle failure)
};

}  // namespace nodevoy
