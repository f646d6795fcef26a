#include "upstream.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "cluster_pool.h"

namespace host {

UpstreamConnection::UpstreamConnection(ClusterPool& pool, size_t endpoint)
    : pool_(pool),
      endpoint_(endpoint),
      parser_(false, *this, pool.cluster().enable_trailers),
      encoder_(pool.cluster().enable_trailers) {
  const SocketAddress& addr = pool.cluster().endpoints[endpoint];
  bev_ = bufferevent_socket_new(pool.worker().base(), -1, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(bev_, onRead, nullptr, onEvent, this);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(addr.port);
  inet_pton(AF_INET, addr.address.c_str(), &sin.sin_addr);
  const timeval tv = msToTimeval(pool.cluster().connect_timeout_ms);
  bufferevent_set_timeouts(bev_, nullptr, &tv);  // bounds the connect; cleared once connected
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  if (bufferevent_socket_connect(bev_, reinterpret_cast<sockaddr*>(&sin), sizeof sin) < 0) {
    // Failed at once (no socket, no route): report it from the loop, as a refused connect would be,
    // once the owner is attached. The timer dies with the connection, so it never fires on a freed one.
    closed_ = true;
    failed_.reset(evtimer_new(pool.worker().base(), onConnectFailed, this));
    const timeval now{0, 0};
    evtimer_add(failed_.get(), &now);
  }
}

UpstreamConnection::~UpstreamConnection() {
  if (bev_) bufferevent_free(bev_);
}

void UpstreamConnection::attach(UpstreamCallbacks* cb, bool head_request) {
  cb_ = cb;
  request_done_ = end_delivered_ = response_done_ = false;
  keep_alive_ = true;
  parser_.resume();
  if (head_request) parser_.expectNoBody();
}

void UpstreamConnection::sendHeaders(const HeaderMap& h, bool end_stream) {
  encoder_.encodeHeaders(bufferevent_get_output(bev_), h, end_stream, true);
  request_done_ = end_stream;
}

void UpstreamConnection::onConnectFailed(evutil_socket_t, short, void* arg) {
  static_cast<UpstreamConnection*>(arg)->reset("connection_failure");
}

void UpstreamConnection::sendData(std::string_view d, bool end_stream) {
  encoder_.encodeData(bufferevent_get_output(bev_), d, end_stream);
  request_done_ = end_stream;
}

void UpstreamConnection::sendTrailers(const HeaderMap& t) {
  encoder_.encodeTrailers(bufferevent_get_output(bev_), t);
  request_done_ = true;
}

void UpstreamConnection::cancel() {
  cb_ = nullptr;
  // After end_stream the parser is still inside this response: onMessageComplete, which follows in
  // the same parse, decides between idle and close once the message is fully consumed. Releasing it
  // here could hand it to another stream while this response's last bytes are being parsed.
  if (!end_delivered_) close();
}

void UpstreamConnection::onRead(bufferevent* bev, void* arg) {
  auto* self = static_cast<UpstreamConnection*>(arg);
  evbuffer* in = bufferevent_get_input(bev);
  while (!self->closed_ && evbuffer_get_length(in) > 0) {
    if (!self->cb_) {  // bytes on an idle connection (or after the response): the server broke the protocol
      self->close();
      return;
    }
    size_t len = evbuffer_get_length(in);
    const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(len)));
    long n = self->parser_.feed(data, len);
    if (n < 0) {
      self->reset("protocol_error");
      return;
    }
    if (self->closed_) return;
    evbuffer_drain(in, static_cast<size_t>(n));
    if (n == 0) break;
  }
}

void UpstreamConnection::onEvent(bufferevent*, short what, void* arg) {
  auto* self = static_cast<UpstreamConnection*>(arg);
  if (what & BEV_EVENT_CONNECTED) {
    self->connected_ = true;
    bufferevent_set_timeouts(self->bev_, nullptr, nullptr);
    int one = 1;
    setsockopt(bufferevent_getfd(self->bev_), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return;
  }
  if (what & BEV_EVENT_EOF && self->cb_ && self->parser_.midMessage()) {
    self->parser_.finishOnEof();  // a response framed by connection close ends here
    if (self->response_done_ || self->closed_) return;
  }
  // Also the way an idle connection the upstream closed leaves the pool, before anyone picks it.
  self->reset(self->connected_ ? "connection_termination" : "connection_failure");
}

void UpstreamConnection::onHeaders(HeaderMap&& h, bool end) {
  end_delivered_ = end;
  if (cb_) cb_->onUpstreamHeaders(std::move(h), end);
}
void UpstreamConnection::onData(std::string_view d, bool end) {
  end_delivered_ = end;
  if (cb_) cb_->onUpstreamData(d, end);
}
void UpstreamConnection::onTrailers(HeaderMap&& t) {
  end_delivered_ = true;
  if (cb_) cb_->onUpstreamTrailers(std::move(t));
}
void UpstreamConnection::onMessageComplete(bool keep_alive) {
  keep_alive_ = keep_alive;
  response_done_ = true;
  cb_ = nullptr;  // the owner got end_stream and forgets us
  maybeRelease();
}

void UpstreamConnection::maybeRelease() {
  if (closed_) return;
  // A response that ended before its request was fully sent leaves the request half on the wire:
  // the connection cannot carry another one (Envoy's HTTP/1 client closes it too).
  if (request_done_ && keep_alive_)
    pool_.release(this);
  else
    close();
}

void UpstreamConnection::reset(const std::string& reason) {
  if (closed_ && !cb_) return;
  auto* cb = cb_;
  cb_ = nullptr;
  close();
  if (cb) cb->onUpstreamReset(reason);
}

void UpstreamConnection::close() {
  if (!closed_) bufferevent_disable(bev_, EV_READ | EV_WRITE);
  closed_ = true;
  pool_.discard(this);
}

std::string resetReasonText(const std::string& reason) {
  std::string out = reason;
  for (auto& c : out)
    if (c == '_') c = ' ';
  return out;
}

}  // namespace host
