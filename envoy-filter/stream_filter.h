// One stream's native state (per-stream lifetime): which handler of each direction is parked, what the
// body and trailers did meanwhile, the reply a handler recorded, and the scheduler that brings a settled
// handler back onto the worker. Every rule about what a hook returns lives here.
#pragma once
#include <cstdint>
#include <node_api.h>

#include <optional>
#include <string>
#include <string_view>
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

  // Hooks; each returns its hook type's status (the ABI's values).
  HeadersStatus onHeaders(Direction direction, bool end_stream);
  BodyStatus onData(Direction direction, bool end_stream);
  HeadersStatus onTrailers(Direction direction);
  void onScheduled(uint64_t event_id);
  void onStreamComplete();
  void onCalloutDone(uint64_t callout, uint32_t result, const envoy_dynamic_module_type_envoy_http_header* headers,
                     size_t header_count, const envoy_dynamic_module_type_envoy_buffer* chunks, size_t chunk_count);

  // From the binding (JS, on this worker).
  envoy_dynamic_module_type_http_filter_envoy_ptr envoy() const { return envoy_; }
  const FilterConfig& config() const { return config_; }
  bool completed() const { return completed_; }
  void recordReply(RecordedReply reply) { reply_ = std::move(reply); }
  void settle(Phase phase, Outcome outcome);
  // The whole body: a Uint8Array copy now if it is complete, undefined if it will be delivered, or
  // null with *error set if it can no longer be read (the headers went on).
  napi_value readBody(int direction, std::string* error);
  bool rewriteBody(int direction, BodyOp op, std::string_view data, std::string* error);
  // A chunk handler's replacement for the chunks it was shown.
  bool replaceChunks(int direction, std::string_view data, std::string* error);
  void countFailure(const char* kind);
  // JS holds something that must hear of the stream's end at once (its signal, a fetch, a body read).
  void watchClose() { watched_ = true; }
  // The environment stopped (process.exit): parked handlers fail per policy from this stream's own hook.
  void environmentGone();
  // Parked handlers that have not settled come to `outcome`; true if there were any.
  bool failParked(Outcome outcome);
  // A C++ exception escaped one of this stream's hooks: answer it once anyway (see stream_filter.cc).
  void failNative() noexcept;

 private:
  struct DirectionState {
    bool started = false;         // the headers handler ran (or is parked)
    bool end_seen = false;        // end of stream arrived (headers, last data, or trailers)
    bool data_end = false;        // a body hook carried end of stream (no trailers follow)
    bool headers_passed = false;  // the headers went on down the chain: body and status are fixed
    bool want_body = false;       // a handler awaits the whole body
    bool body_delivered = false;
    bool deferred_data = false;  // chunks were buffered while the headers handler was parked
    bool deferred_trailers = false;
    std::optional<Phase> parked;  // the handler of this phase is awaiting
    std::optional<Outcome> settled;
  };
  enum class Result { Go, Parked, Answered };
  enum class Hook { Headers, Data, Trailers, Other };

  Result run(Phase phase, Hook hook, int direction);
  Outcome call(Phase phase);
  Outcome runChunks(int direction, bool received, bool end);
  Result complete(Phase phase, Outcome outcome, Hook hook);
  Result deliverAndResume(int direction, Hook hook);
  void openStream();
  void recordJsTime(Phase phase, uint64_t micros);
  // Every JS run inside this stream's hook (handlers, deliveries, loop turns) gets this filter's sync budget.
  void budgetJs();
  Result answer(Outcome outcome);
  Outcome applyPolicy(Outcome outcome);
  void resumeSettled();
  bool has(Phase p) const { return handlers_ & (1u << static_cast<uint32_t>(p)); }
  void sendFailure(const std::string& details);
  // Every local reply goes through here (a gRPC request gets a grpc-status; see grpc_reply.h).
  void sendReply(uint32_t status, std::vector<std::string> headers, std::string_view body, std::string_view details);
  bool isGrpcRequest() const;

  const FilterConfig& config_;
  envoy_dynamic_module_type_http_filter_envoy_ptr envoy_;
  JsEnv* env_ = nullptr;
  int instance_ = -1;
  uint32_t handlers_ = 0;  // which phases have a JS handler; the others cost no JS call
  bool touched_ = false;   // JS has a stream object to close
  uint32_t id_ = 0;
  uint64_t route_ = 0;  // per-route config id, once looked up
  envoy_dynamic_module_type_http_filter_scheduler_module_ptr scheduler_ = nullptr;
  DirectionState dirs_[2];
  int in_data_hook_ = -1;  // direction whose body hook is running (its received chunk exists)
  int deferring_ = kNone;  // direction whose settles the running JS call's caller reads itself (kAny: both)
  static constexpr int kNone = -1, kAny = 2;
  struct ChunkRun {
    int direction;
    bool received;
  };
  std::optional<ChunkRun> chunk_run_;  // a chunk handler is looking at these chunks
  bool route_failed_ = false;
  bool watched_ = false;
  std::optional<RecordedReply> reply_;
  bool answered_ = false;
  bool completed_ = false;
  std::string unavailable_;  // why this stream has no JS (environment or bundle failure)
};

}  // namespace nodevoy
