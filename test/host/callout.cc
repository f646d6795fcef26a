#include "callout.h"

#include "cluster_pool.h"
#include "stream.h"

namespace host {

Callout::Callout(ActiveStream& stream, FilterSlot* slot, uint64_t id, uint64_t timeout_ms)
    : stream_(stream), slot_(slot), id_(id), timeout_ms_(timeout_ms) {}

Callout::~Callout() {
  if (timer_) event_free(timer_);
  if (conn_) conn_->cancel();
}

void Callout::start(ClusterPool* pool, HeaderMap headers, std::string body) {
  if (timeout_ms_ > 0) {
    timer_ = evtimer_new(stream_.worker().base(), onTimeout, this);
    const timeval tv = msToTimeval(timeout_ms_);
    evtimer_add(timer_, &tv);
  }
  if (!body.empty() && !headers.get("content-length")) headers.set("content-length", std::to_string(body.size()));
  conn_ = pool->newStream(this, headers.get(":method") == "HEAD");
  conn_->sendHeaders(headers, body.empty());
  if (!body.empty() && conn_) conn_->sendData(body, true);
}

void Callout::onUpstreamHeaders(HeaderMap&& h, bool end) {
  headers_ = std::move(h);
  if (end) finish();
}

void Callout::onUpstreamData(std::string_view d, bool end) {
  body_.append(d);
  if (end) finish();
}

void Callout::onUpstreamTrailers(HeaderMap&&) {
  finish();
}

void Callout::onUpstreamReset(const std::string& reason) {
  conn_ = nullptr;
  localReply(503,
             "upstream connect error or disconnect/reset before headers. reset reason: " + resetReasonText(reason));
}

void Callout::onTimeout(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Callout*>(arg);
  if (self->conn_) {
    auto* c = self->conn_;
    self->conn_ = nullptr;
    c->cancel();
  }
  self->localReply(504, "upstream request timeout");
}

void Callout::localReply(int status, const std::string& body) {
  headers_ = HeaderMap(HeaderKind::ResponseHeaders);
  headers_.add(":status", std::to_string(status));
  headers_.add("content-type", "text/plain");
  body_.clear();
  body_.append(body);
  finish();
}

void Callout::finish() {
  if (done_) return;
  done_ = true;
  conn_ = nullptr;  // the connection forgets us once the response ended
  stream_.calloutDone(this, envoy_dynamic_module_type_http_callout_result_Success);
}

}  // namespace host
