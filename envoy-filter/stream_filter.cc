#include "envoy-filter/stream_filter.h"

#include "envoy-filter/grpc_reply.h"

#include <chrono>
#include <cstring>

#include "envoy-filter/body_buffers.h"
#include "envoy-filter/filter_config.h"
#include "envoy-filter/grpc_reply.h"
#include "envoy-filter/js_env.h"
#include "envoy-filter/log.h"
#include "envoy-filter/module_buffer.h"

namespace nodevoy {

namespace {
// The hooks' statuses (generated from the spec, pinned to the ABI's values there): the request and response
// enums, and headers and trailers, share their values, so one name serves each.
constexpr auto kContinue = HeadersStatus::Continue;
constexpr auto kStopIteration = HeadersStatus::StopIteration;
constexpr auto kBodyContinue = BodyStatus::Continue;
constexpr auto kStopAndBuffer = BodyStatus::StopIterationAndBuffer;
constexpr auto kStopAndWatermark = BodyStatus::StopIterationAndWatermark;
constexpr auto kStopNoBuffer = BodyStatus::StopIterationNoBuffer;

// Marks a JS call during which a settle of `direction` is only recorded: the caller finishes it itself.
class Deferring {
 public:
  Deferring(int& slot, int direction) : slot_(slot), was_(slot) { slot_ = direction; }
  ~Deferring() { slot_ = was_; }
  Deferring(const Deferring&) = delete;
  Deferring& operator=(const Deferring&) = delete;

 private:
  int& slot_;
  int was_;
};

uint64_t microsSince(std::chrono::steady_clock::time_point t0) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count());
}
}  // namespace

StreamFilter::StreamFilter(const FilterConfig& config, envoy_dynamic_module_type_http_filter_envoy_ptr envoy)
    : config_(config), envoy_(envoy) {
  std::string error;
  env_ = JsEnv::forThisThread(true, &error);
  if (env_ && env_->workerIndex() < 0)
    env_->setWorkerIndex(static_cast<int>(envoy_dynamic_module_callback_http_filter_get_worker_index(envoy)));
  if (env_) {
    auto inst = env_->instanceFor(config, &error);
    instance_ = inst.index;
    handlers_ = inst.handlers;
  }
  if (!env_ || instance_ < 0) {
    unavailable_ = error;
    logError("nodevoy: filter \"" + config.filterName() + "\" cannot run on this worker: " + error);
    env_ = nullptr;
    return;
  }
  id_ = env_->addStream(this);
  scheduler_ = envoy_dynamic_module_callback_http_filter_scheduler_new(envoy);
  if (env_->pump()) env_->pump()->offer(scheduler_);
}

StreamFilter::~StreamFilter() {
  if (!env_) return;
  env_->removeStream(id_);
  if (env_->pump()) env_->pump()->withdraw(scheduler_);  // the helper never commits on a deleted scheduler
  envoy_dynamic_module_callback_http_filter_scheduler_delete(scheduler_);
  if (!env_->alive()) JsEnv::reapRetired();
}

void StreamFilter::environmentGone() {
  const bool any = failParked(Outcome::Failed);
  if (any && deferring_ == kNone && !completed_)
    envoy_dynamic_module_callback_http_filter_scheduler_commit(scheduler_, kResumeEvent);
}

// ---- hooks ----

HeadersStatus StreamFilter::onHeaders(Direction dir, bool end_stream) {
  const int direction = index(dir);
  if (!env_) {
    if (direction != kRequest || answered_) return kContinue;
    countFailure("unavailable");
    if (config_.failOpen()) return kContinue;
    answered_ = true;
    sendFailure("nodevoy_unavailable");
    return kStopIteration;
  }
  budgetJs();
  DirectionState& d = dirs_[direction];
  d.end_seen = end_stream;
  const Phase phase = headersPhase(direction);
  if (!has(phase) || answered_) {
    d.headers_passed = true;
    return kContinue;
  }
  d.started = true;
  Result r = run(phase, Hook::Headers, direction);
  env_->afterHook();
  return r == Result::Go ? kContinue : kStopIteration;
}

BodyStatus StreamFilter::onData(Direction dir, bool end_stream) {
  const int direction = index(dir);
  if (!env_ || answered_) return kBodyContinue;
  if (!env_->alive() && !dirs_[direction].parked) return kBodyContinue;  // handled by the headers phase's failure
  budgetJs();
  DirectionState& d = dirs_[direction];
  if (end_stream) d.end_seen = d.data_end = true;
  if (d.parked) {
    // The headers handler is still running: hold the chunk (our chunk handler sees it on resume).
    if (has(dataPhase(direction))) d.deferred_data = true;
    if (!(d.want_body && d.end_seen && !d.body_delivered)) return d.want_body ? kStopAndBuffer : kStopAndWatermark;
    in_data_hook_ = direction;
    Result r = deliverAndResume(direction, Hook::Data);
    in_data_hook_ = -1;
    env_->afterHook();
    if (r == Result::Go) return kBodyContinue;
    return r == Result::Answered ? kStopNoBuffer : kStopAndBuffer;
  }
  if (!has(dataPhase(direction))) return kBodyContinue;
  in_data_hook_ = direction;
  Outcome o = applyPolicy(runChunks(direction, true, end_stream));
  in_data_hook_ = -1;
  Result r = o == Outcome::Continue ? Result::Go : answer(o);
  env_->afterHook();
  return r == Result::Go ? kBodyContinue : kStopNoBuffer;
}

HeadersStatus StreamFilter::onTrailers(Direction dir) {
  const int direction = index(dir);
  if (!env_ || answered_) return kContinue;
  if (!env_->alive() && !dirs_[direction].parked) return kContinue;
  budgetJs();
  DirectionState& d = dirs_[direction];
  d.end_seen = true;
  const Phase phase = trailersPhase(direction);
  if (d.parked) {
    if (has(phase)) d.deferred_trailers = true;
    if (!(d.want_body && !d.body_delivered)) return kStopIteration;
    Result r = deliverAndResume(direction, Hook::Trailers);
    env_->afterHook();
    return r == Result::Go ? kContinue : kStopIteration;
  }
  if (!has(phase)) return kContinue;
  Result r = run(phase, Hook::Trailers, direction);
  env_->afterHook();
  return r == Result::Go ? kContinue : kStopIteration;
}

void StreamFilter::onScheduled(uint64_t event_id) {
  if (!env_) return;
  budgetJs();
  if (event_id == kPumpEvent) {
    env_->runLoop();
    return;
  }
  if (event_id == kResumeEvent) resumeSettled();
  env_->afterHook();
}

void StreamFilter::onCalloutDone(uint64_t callout, uint32_t result,
                                 const envoy_dynamic_module_type_envoy_http_header* headers, size_t header_count,
                                 const envoy_dynamic_module_type_envoy_buffer* chunks, size_t chunk_count) {
  if (!env_ || completed_ || !env_->alive()) return;
  budgetJs();
  {
    NapiScope scope(env_->napi());
    napi_env napi = env_->napi();
    napi_value flat;
    napi_create_array_with_length(napi, header_count * 2, &flat);
    for (size_t i = 0; i < header_count; i++) {
      napi_value k, v;
      napi_create_string_latin1(napi, headers[i].key_ptr, headers[i].key_length, &k);
      napi_create_string_latin1(napi, headers[i].value_ptr, headers[i].value_length, &v);
      napi_set_element(napi, flat, static_cast<uint32_t>(2 * i), k);
      napi_set_element(napi, flat, static_cast<uint32_t>(2 * i + 1), v);
    }
    size_t total = 0;
    for (size_t i = 0; i < chunk_count; i++) total += chunks[i].length;
    void* data = nullptr;
    napi_value body;
    napi_create_buffer(napi, total, &data, &body);  // the response body is the handler's to keep: a copy
    env_->countCopied(total);
    size_t at = 0;
    for (size_t i = 0; i < chunk_count; i++) {
      std::memcpy(static_cast<char*>(data) + at, chunks[i].ptr, chunks[i].length);
      at += chunks[i].length;
    }
    Deferring deferring(deferring_, kAny);
    env_->calloutDone(id_, callout, result, flat, body);
    if (env_->lastCallTerminated()) failParked(Outcome::Timeout);  // its awaiting handler cannot finish now
  }
  resumeSettled();
  env_->afterHook();
}

void StreamFilter::onStreamComplete() {
  if (completed_) return;
  completed_ = true;
  if (env_ && env_->pump()) env_->pump()->withdraw(scheduler_);  // a completed stream carries no more loop runs
  bool parked = false;
  for (auto& d : dirs_) {
    parked = parked || d.parked.has_value();
    d.parked.reset();
  }
  if (env_ && touched_) {
    budgetJs();
    if (parked || watched_)
      env_->closed(id_);  // aborts the handler's signal, rejects what it awaits
    else
      env_->closeLater(id_);
    env_->afterHook();
  }
}

// ---- running handlers ----

StreamFilter::Result StreamFilter::run(Phase phase, Hook hook, int direction) {
  DirectionState& d = dirs_[direction];
  d.settled.reset();
  Outcome o;
  {
    Deferring deferring(deferring_, direction);
    o = call(phase);
  }
  if (o == Outcome::Pending && d.settled) o = *d.settled;  // settled inside the hook: no thread hop
  d.settled.reset();
  if (o == Outcome::Pending) {
    d.parked = phase;
    return Result::Parked;
  }
  return complete(phase, o, hook);
}

void StreamFilter::openStream() {
  if (touched_) return;
  touched_ = true;
  envoy_dynamic_module_callback_http_filter_increment_counter(envoy_, config_.requestsCounter(), nullptr, 0, 1);
  auto* route =
      static_cast<const PerRouteConfig*>(envoy_dynamic_module_callback_get_most_specific_route_config(envoy_));
  if (!route) return;
  std::string error;
  if (env_->ensureRoute(instance_, route->id(), route->configJson(), &error)) {
    route_ = route->id();
  } else {
    route_failed_ = true;
    logError("nodevoy: filter \"" + config_.filterName() + "\": per-route config rejected on this worker: " + error);
  }
}

Outcome StreamFilter::call(Phase phase) {
  openStream();
  if (route_failed_) return Outcome::Failed;
  if (!config_.recordsJsTime()) return env_->dispatch(phase, instance_, id_, route_);
  const auto t0 = std::chrono::steady_clock::now();
  Outcome o = env_->dispatch(phase, instance_, id_, route_);
  recordJsTime(phase, microsSince(t0));
  return o;
}

Outcome StreamFilter::runChunks(int direction, bool received, bool end) {
  if (!env_->alive()) return Outcome::Failed;
  BodyBuffers body(envoy_, direction, received);
  auto chunks = body.chunks(received);
  if (chunks.empty() && !end) return Outcome::Continue;
  openStream();
  if (route_failed_) return Outcome::Failed;
  const Phase phase = dataPhase(direction);
  const auto t0 = std::chrono::steady_clock::now();
  Outcome o;
  {
    NapiScope scope(env_->napi());
    ChunkViews views(env_->isolate(), chunks);  // detached when this block ends, before the hook returns
    chunk_run_ = ChunkRun{direction, received};
    o = env_->data(phase, instance_, id_, route_, views.array(), end);
    chunk_run_.reset();
  }
  recordJsTime(phase, microsSince(t0));
  return o;
}

void StreamFilter::budgetJs() {
  env_->setSyncBudget(config_.syncBudgetMs());
}

void StreamFilter::recordJsTime(Phase phase, uint64_t micros) {
  if (!config_.recordsJsTime()) return;
  const char* name = phaseName(phase);
  envoy_dynamic_module_type_module_buffer label = moduleBuffer(name);
  envoy_dynamic_module_callback_http_filter_record_histogram_value(envoy_, config_.jsTimeHistogram(), &label, 1,
                                                                   micros);
}

StreamFilter::Result StreamFilter::deliverAndResume(int direction, Hook hook) {
  DirectionState& d = dirs_[direction];
  d.body_delivered = true;
  if (env_->alive()) {
    NapiScope scope(env_->napi());
    BodyBuffers body(envoy_, direction, in_data_hook_ == direction);
    env_->countCopied(body.size());
    napi_value bytes = body.copyToJs(env_->napi(), env_->isolate());
    Deferring deferring(deferring_, direction);
    env_->deliverBody(id_, direction, bytes);
    if (env_->lastCallTerminated() && d.parked && !d.settled) d.settled = Outcome::Timeout;
  }
  if (!d.settled || !d.parked) return Result::Parked;
  const Phase phase = *d.parked;
  const Outcome o = *d.settled;
  d.parked.reset();
  d.settled.reset();
  return complete(phase, o, hook);
}

Outcome StreamFilter::applyPolicy(Outcome outcome) {
  if (outcome != Outcome::Failed && outcome != Outcome::Timeout) return outcome;
  countFailure(outcome == Outcome::Timeout ? "timeout" : "handler");
  return config_.failOpen() ? Outcome::Continue : outcome;  // fail_open: the stream goes on untouched
}

StreamFilter::Result StreamFilter::complete(Phase phase, Outcome outcome, Hook hook) {
  outcome = applyPolicy(outcome);
  if (outcome != Outcome::Continue) return answer(outcome);
  const int direction = directionOf(phase);
  DirectionState& d = dirs_[direction];
  if (phase == headersPhase(direction)) {
    d.headers_passed = true;
    if (d.deferred_data && has(dataPhase(direction))) {
      // Chunks that arrived while the headers handler was parked go through the chunk handler now.
      d.deferred_data = false;
      const bool with_received = in_data_hook_ == direction;
      Outcome o = applyPolicy(runChunks(direction, false, d.data_end && !with_received));
      if (o == Outcome::Continue && with_received) o = applyPolicy(runChunks(direction, true, d.data_end));
      if (o != Outcome::Continue) return answer(o);
    }
    if (d.deferred_trailers) {
      d.deferred_trailers = false;
      return run(trailersPhase(direction), hook, direction);
    }
  }
  if (hook == Hook::Other) {
    if (direction == kRequest)
      envoy_dynamic_module_callback_http_filter_continue_decoding(envoy_);
    else
      envoy_dynamic_module_callback_http_filter_continue_encoding(envoy_);
  }
  return Result::Go;
}

StreamFilter::Result StreamFilter::answer(Outcome outcome) {
  answered_ = true;
  for (auto& d : dirs_) d.parked.reset();
  if (dirs_[1].headers_passed) {
    // The client already has a status line: a reply cannot replace it, so the stream is reset (as Envoy
    // does for a local reply after response headers), never completed as if nothing happened.
    logError("nodevoy: filter \"" + config_.filterName() +
             "\" answered after the response headers were sent; resetting the stream");
    envoy_dynamic_module_callback_http_filter_reset_stream(
        envoy_, envoy_dynamic_module_type_http_filter_stream_reset_reason_LocalReset,
        moduleBuffer("nodevoy_reply_after_response_headers"));
    return Result::Answered;
  }
  if (outcome == Outcome::Reply && reply_) {
    RecordedReply r = std::move(*reply_);
    reply_.reset();
    sendReply(r.status, std::move(r.headers), r.body, r.details);
    return Result::Answered;
  }
  if (outcome == Outcome::Timeout) {
    sendReply(504, {}, "nodevoy: the filter did not finish in time\n", "nodevoy_handler_timeout");
    return Result::Answered;
  }
  sendFailure("nodevoy_handler_failed");
  return Result::Answered;
}

void StreamFilter::settle(Phase phase, Outcome outcome) {
  const int direction = directionOf(phase);
  DirectionState& d = dirs_[direction];
  const bool caller_reads = deferring_ == direction || deferring_ == kAny;
  if (!d.parked && !caller_reads) return;  // nothing awaits this settle (the stream was answered)
  d.settled = outcome;
  // Inside a call whose caller finishes the stream? It reads settled. Otherwise resume from the stream's own hook.
  if (!caller_reads && !completed_)
    envoy_dynamic_module_callback_http_filter_scheduler_commit(scheduler_, kResumeEvent);
}

bool StreamFilter::failParked(Outcome outcome) {
  bool any = false;
  for (auto& d : dirs_)
    if (d.parked && !d.settled) {
      d.settled = outcome;
      any = true;
    }
  return any;
}

void StreamFilter::resumeSettled() {
  for (auto& d : dirs_) {
    if (!d.parked || !d.settled || completed_) continue;
    const Phase phase = *d.parked;
    const Outcome o = *d.settled;
    d.parked.reset();
    d.settled.reset();
    complete(phase, o, Hook::Other);
  }
}

// Always fail-closed, whatever failure_mode says: after a native fault the stream's own state is in
// doubt, so letting the request on could skip the filter's decision. Invariant 4: answered exactly once.
void StreamFilter::failNative() noexcept {
  try {
    countFailure("native");
    if (completed_ || answered_) return;
    answered_ = true;
    for (auto& d : dirs_) d.parked.reset();
    if (!dirs_[1].headers_passed) {
      sendFailure("nodevoy_native_error");
      return;
    }
  } catch (...) {
    // answering failed too: the reset below still ends the stream
  }
  if (!completed_)
    envoy_dynamic_module_callback_http_filter_reset_stream(
        envoy_, envoy_dynamic_module_type_http_filter_stream_reset_reason_LocalReset,
        moduleBuffer("nodevoy_native_error"));
}

void StreamFilter::sendFailure(const std::string& details) {
  sendReply(config_.failureStatus(), {}, "nodevoy: the filter failed to process this request\n", details);
}

bool StreamFilter::isGrpcRequest() const {
  envoy_dynamic_module_type_envoy_buffer v{nullptr, 0};
  size_t count = 0;
  return envoy_dynamic_module_callback_http_get_header(envoy_, envoy_dynamic_module_type_http_header_type_RequestHeader,
                                                       moduleBuffer("content-type"), &v, 0, &count) &&
         count > 0 && v.ptr && isGrpcContentType(std::string_view(v.ptr, v.length));
}

void StreamFilter::sendReply(uint32_t status, std::vector<std::string> headers, std::string_view body,
                             std::string_view details) {
  if (isGrpcRequest()) {
    // A gRPC client reads the outcome from grpc-status, never from :status (see grpc_reply.h).
    bool named = false;
    for (size_t i = 0; i < headers.size(); i += 2) named = named || headers[i] == "grpc-status";
    if (!named) {
      headers.push_back("grpc-status");
      headers.push_back(std::to_string(grpcStatusForHttp(status)));
    }
    while (!body.empty() && body.back() == '\n') body.remove_suffix(1);  // it becomes grpc-message
  }
  std::vector<envoy_dynamic_module_type_module_http_header> hs;
  for (size_t i = 0; i + 1 < headers.size(); i += 2)
    hs.push_back({headers[i].data(), headers[i].size(), headers[i + 1].data(), headers[i + 1].size()});
  envoy_dynamic_module_callback_http_send_response(envoy_, status, hs.empty() ? nullptr : hs.data(), hs.size(),
                                                   moduleBuffer(body), moduleBuffer(details));
}

void StreamFilter::countFailure(const char* kind) {
  envoy_dynamic_module_type_module_buffer label = moduleBuffer(kind);
  envoy_dynamic_module_callback_http_filter_increment_counter(envoy_, config_.errorsCounter(), &label, 1, 1);
}

// ---- from the binding ----

napi_value StreamFilter::readBody(int direction, std::string* error) {
  DirectionState& d = dirs_[direction];
  const char* which = direction == kRequest ? "request" : "response";
  if (!d.started || d.headers_passed) {
    *error = std::string("the ") + which + " body can only be read by the " + which +
             " headers handler, before it returns or settles (afterwards the body has gone on)";
    return nullptr;
  }
  if (!d.end_seen) {
    d.want_body = true;  // delivered when the last chunk or the trailers arrive
    napi_value undef;
    napi_get_undefined(env_->napi(), &undef);
    return undef;
  }
  d.body_delivered = true;
  BodyBuffers body(envoy_, direction, in_data_hook_ == direction);
  env_->countCopied(body.size());
  return body.copyToJs(env_->napi(), env_->isolate());
}

bool StreamFilter::rewriteBody(int direction, BodyOp op, std::string_view data, std::string* error) {
  DirectionState& d = dirs_[direction];
  const char* which = direction == kRequest ? "request" : "response";
  if (!d.started || d.headers_passed) {
    *error = std::string("the ") + which + " body can only be rewritten by the " + which +
             " headers handler, before it returns or settles";
    return false;
  }
  if (!d.end_seen) {
    *error = std::string("the ") + which + " body has not fully arrived: await body.bytes() (or text()/json()) first";
    return false;
  }
  BodyBuffers body(envoy_, direction, in_data_hook_ == direction);
  bool ok = op == BodyOp::Replace ? body.replace(data) : op == BodyOp::Append ? body.append(data) : body.prepend(data);
  if (!ok) {
    *error = std::string("Envoy refused to change the ") + which + " body";
    return false;
  }
  body.fixContentLength();
  return true;
}

bool StreamFilter::replaceChunks(int direction, std::string_view data, std::string* error) {
  if (!chunk_run_ || chunk_run_->direction != direction) {
    *error = "chunks can only be replaced by the chunk handler that received them";
    return false;
  }
  if (!BodyBuffers(envoy_, direction, chunk_run_->received).replaceChunks(chunk_run_->received, data)) {
    *error = "Envoy refused to change the body chunk";
    return false;
  }
  return true;
}

}  // namespace nodevoy
