#include "upstream.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <cstring>

#include "log.h"

namespace host {

UpstreamConnection::UpstreamConnection(ClusterPool& pool, const SocketAddress& addr)
    : pool_(pool), addr_(addr), parser_(false, *this) {
  bev_ = bufferevent_socket_new(pool.worker().base(), -1, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(bev_, onRead, nullptr, onEvent, this);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(addr.port);
  inet_pton(AF_INET, addr.address.c_str(), &sin.sin_addr);
  const timeval tv = msToTimeval(pool.cluster().connect_timeout_ms);
  bufferevent_set_timeouts(bev_, nullptr, &tv);  // bounds the connect; cleared once connected
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  if (bufferevent_socket_connect(bev_, reinterpret_cast<sockaddr*>(&sin), sizeof sin) < 0) closed_ = true;
}

UpstreamConnection::~UpstreamConnection() {
  if (bev_) bufferevent_free(bev_);
}

void UpstreamConnection::attach(UpstreamCallbacks* cb, bool head_request) {
  cb_ = cb;
  request_done_ = response_done_ = false;
  parser_.resume();
  if (head_request) parser_.expectNoBody();
}

void UpstreamConnection::sendHeaders(const HeaderMap& h, bool end_stream) {
  encoder_.encodeHeaders(bufferevent_get_output(bev_), h, end_stream, true);
  request_done_ = end_stream;
  if (closed_) pool_.worker().post([this] { reset("connection_failure"); });
}

void UpstreamConnection::sendData(std::string_view d, bool end_stream) {
  encoder_.encodeData(bufferevent_get_output(bev_), d, end_stream);
  request_done_ = end_stream;
  maybeRelease();
}

void UpstreamConnection::sendTrailers(const HeaderMap& t) {
  encoder_.encodeTrailers(bufferevent_get_output(bev_), t);
  request_done_ = true;
  maybeRelease();
}

void UpstreamConnection::cancel() {
  cb_ = nullptr;
  close();
}

void UpstreamConnection::onRead(bufferevent* bev, void* arg) {
  auto* self = static_cast<UpstreamConnection*>(arg);
  evbuffer* in = bufferevent_get_input(bev);
  while (!self->closed_ && evbuffer_get_length(in) > 0) {
    if (!self->cb_) {  // bytes on an idle connection: the server broke the protocol
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
  self->reset(self->connected_ ? "connection_termination" : "connection_failure");
}

void UpstreamConnection::onHeaders(HeaderMap&& h, bool end) {
  if (cb_) cb_->onUpstreamHeaders(std::move(h), end);
}
void UpstreamConnection::onData(std::string_view d, bool end) {
  if (cb_) cb_->onUpstreamData(d, end);
}
void UpstreamConnection::onTrailers(HeaderMap&& t) {
  if (cb_) cb_->onUpstreamTrailers(std::move(t));
}
void UpstreamConnection::onMessageComplete(bool keep_alive) {
  keep_alive_ = keep_alive;
  response_done_ = true;
  cb_ = nullptr;  // the owner got end_stream and forgets us
  maybeRelease();
}

void UpstreamConnection::maybeRelease() {
  if (!response_done_ || closed_) return;
  if (request_done_ && keep_alive_ && !cb_) pool_.release(this);
  else if (!cb_) close();
}

void UpstreamConnection::reset(const std::string& reason) {
  if (closed_ && !cb_) return;
  auto* cb = cb_;
  cb_ = nullptr;
  close();
  if (cb) cb->onUpstreamReset(reason);
}

void UpstreamConnection::close() {
  if (bev_ && !closed_) bufferevent_disable(bev_, EV_READ | EV_WRITE);
  closed_ = true;
  pool_.discard(this);
}

ClusterPool::~ClusterPool() = default;

bool ClusterPool::hasEndpoint(const SocketAddress& a) const {
  return std::any_of(cluster_.endpoints.begin(), cluster_.endpoints.end(),
                     [&](const SocketAddress& e) { return e.address == a.address && e.port == a.port; });
}

UpstreamConnection* ClusterPool::newStream(UpstreamCallbacks* cb, bool head_request, const SocketAddress* only) {
  if (only && !hasEndpoint(*only)) return nullptr;
  auto wanted = [&](UpstreamConnection* c) {
    return !c->closed_ && (!only || (c->address().address == only->address && c->address().port == only->port));
  };
  UpstreamConnection* c = nullptr;
  for (auto it = idle_.rbegin(); it != idle_.rend(); ++it)
    if (wanted(*it)) {
      c = *it;
      idle_.erase(std::next(it).base());
      break;
    }
  std::erase_if(idle_, [](UpstreamConnection* x) { return x->closed_; });
  if (!c) {
    const auto& ep = only ? *only : cluster_.endpoints[next_endpoint_++ % cluster_.endpoints.size()];
    auto owned = std::make_unique<UpstreamConnection>(*this, ep);
    c = owned.get();
    conns_[c] = std::move(owned);
  }
  c->attach(cb, head_request);
  return c;
}

void ClusterPool::release(UpstreamConnection* c) {
  if (std::find(idle_.begin(), idle_.end(), c) == idle_.end()) idle_.push_back(c);
}

void ClusterPool::discard(UpstreamConnection* c) {
  std::erase(idle_, c);
  auto it = conns_.find(c);
  if (it == conns_.end()) return;
  worker_.deferDelete(std::move(it->second));
  conns_.erase(it);
}

}  // namespace host
