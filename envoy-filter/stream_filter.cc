#include "envoy-filter/stream_filter.h"

#include "envoy-filter/filter_config.h"
#include "envoy-filter/js_env.h"
#include "envoy-filter/log.h"
#include "envoy-filter/module_buffer.h"

namespace nodevoy {

namespace {
constexpr int kContinue = 0;
constexpr int kStopIteration = 1;
constexpr int kStopAllIterationAndWatermark = 4;

}  // namespace

StreamFilter::StreamFilter(const FilterConfig& config, envoy_dynamic_module_type_http_filter_envoy_ptr envoy) : envoy_(envoy) {
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
}

int StreamFilter::onHeaders(Phase phase) {
  if (!env_) {
    sendFailure("nodevoy_unavailable");
    return kStopIteration;
  }
  if (!(handlers_ & (1u << static_cast<uint32_t>(phase)))) return kContinue;
  touched_ = true;
  settled_.reset();
  Outcome o = env_->dispatch(phase, instance_, id_);
  if (o == Outcome::Pending && settled_) o = *settled_;  // settled inside the hook: no thread hop
  if (o == Outcome::Pending) {
    parked_ = phase;
    env_->afterHook();
    // Body and trailers wait behind the parked headers, with flow control instead of a hard limit.
    return kStopAllIterationAndWatermark;
  }
  int status = finish(phase, o, true);
  env_->afterHook();
  return status;
}

void StreamFilter::settle(Outcome outcome) {
  settled_ = outcome;
  // Still inside the dispatching hook? It reads settled_. Otherwise resume from the stream's own hook.
  if (parked_ && !completed_) envoy_dynamic_module_callback_http_filter_scheduler_commit(scheduler_, kResumeEvent);
}

void StreamFilter::onScheduled(uint64_t event_id) {
  if (!env_) return;
  if (event_id == kPumpEvent) {
    env_->runLoop();
    return;
  }
  if (event_id == kResumeEvent && parked_ && settled_ && !completed_) {
    Phase phase = *parked_;
    parked_.reset();
    finish(phase, *settled_, false);
  }
  env_->afterHook();
}

int StreamFilter::finish(Phase phase, Outcome outcome, bool in_hook) {
  switch (outcome) {
    case Outcome::Continue:
      if (!in_hook) {
        if (phase == Phase::RequestHeaders) envoy_dynamic_module_callback_http_filter_continue_decoding(envoy_);
        else envoy_dynamic_module_callback_http_filter_continue_encoding(envoy_);
      }
      return kContinue;
    case Outcome::Reply:
      if (reply_) {
        std::vector<envoy_dynamic_module_type_module_http_header> hs;
        for (size_t i = 0; i + 1 < reply_->headers.size(); i += 2)
          hs.push_back({reply_->headers[i].data(), reply_->headers[i].size(), reply_->headers[i + 1].data(),
                        reply_->headers[i + 1].size()});
        RecordedReply r = std::move(*reply_);
        reply_.reset();
        envoy_dynamic_module_callback_http_send_response(envoy_, r.status, hs.empty() ? nullptr : hs.data(), hs.size(),
                                                         moduleBuffer(r.body), moduleBuffer(r.details));
        return kStopIteration;
      }
      [[fallthrough]];
    default:
      sendFailure("nodevoy_handler_failed");
      return kStopIteration;
  }
}

void StreamFilter::sendFailure(const std::string& details) {
  static const std::string body = "nodevoy: the filter failed to process this request\n";
  envoy_dynamic_module_callback_http_send_response(envoy_, 500, nullptr, 0, moduleBuffer(body), moduleBuffer(details));
}

void StreamFilter::onStreamComplete() {
  if (completed_) return;
  completed_ = true;
  parked_.reset();
  if (env_ && touched_) {
    env_->closed(id_);  // aborts the handler's signal; later calls on the stream throw
    env_->afterHook();
  }
}

}  // namespace nodevoy
