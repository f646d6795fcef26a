#include "downstream.h"

#include <event2/buffer.h>

#include <ctime>

#include "log.h"

namespace host {

DownstreamConnection::DownstreamConnection(Worker& w, ListenerRuntime& l, evutil_socket_t fd, std::string remote,
                                           std::string local)
    : worker_(w),
      listener_(l),
      parser_(true, *this, l.config->enable_trailers),
      encoder_(l.config->enable_trailers),
      remote_(std::move(remote)),
      local_(std::move(local)) {
  bev_ = bufferevent_socket_new(w.base(), fd, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(bev_, onRead, onWrite, onEvent, this);
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  worker_.connections().insert(this);
}

DownstreamConnection::~DownstreamConnection() {
  worker_.connections().erase(this);
  if (bev_) bufferevent_free(bev_);
}

void DownstreamConnection::close() {
  if (closed_) return;
  closed_ = true;
  bufferevent_disable(bev_, EV_READ | EV_WRITE);
  worker_.connections().erase(this);
  if (stream_) stream_->resetStream("downstream_remote_disconnect");
  // The stream has handed itself to deferred deletion; the connection follows it.
  worker_.deferDelete(std::unique_ptr<Deletable>(this));
}

void DownstreamConnection::onRead(bufferevent*, void* arg) {
  static_cast<DownstreamConnection*>(arg)->readMore();
}

void DownstreamConnection::readMore() {
  evbuffer* in = bufferevent_get_input(bev_);
  while (!closed_ && !waiting_ && evbuffer_get_length(in) > 0) {
    size_t len = evbuffer_get_length(in);
    const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(len)));
    long n = parser_.feed(data, len);
    if (closed_) return;
    if (n < 0) {
      logLine(LogLevel::Debug, "http", "downstream protocol error: " + parser_.error());
      if (!stream_) {
        // Envoy's reply to a request its codec refuses (details http1.*): a plain-text 400, then close.
        HeaderMap h(HeaderKind::ResponseHeaders);
        h.add(":status", "400");
        h.add("content-length", "11");
        h.add("content-type", "text/plain");
        keep_alive_ = false;
        head_request_ = false;
        writeHeaders(h, false);
        writeData("Bad Request", true);
        closing_ = true;
        bufferevent_disable(bev_, EV_READ);
      } else {
        close();
      }
      return;
    }
    evbuffer_drain(in, static_cast<size_t>(n));
    if (n == 0) break;
  }
}

void DownstreamConnection::onWrite(bufferevent* bev, void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  if (self->closing_ && evbuffer_get_length(bufferevent_get_output(bev)) == 0) self->close();
}

void DownstreamConnection::onEvent(bufferevent*, short what, void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) self->close();
}

void DownstreamConnection::onHeaders(HeaderMap&& h, bool end) {
  // Envoy decides keep-alive from what the stream has received when its response is encoded: a reply
  // sent after the request's end_stream keeps the connection, one sent before closes it.
  request_complete_ = end;
  keep_alive_ = parser_.keepAlive();
  head_request_ = h.get(":method") == "HEAD";
  stream_ = std::make_unique<ActiveStream>(worker_, listener_, *this, next_stream_id_++);
  stream_->decodeHeaders(std::move(h), end);
}

void DownstreamConnection::onData(std::string_view d, bool end) {
  if (end) request_complete_ = true;
  if (stream_) stream_->decodeData(d, end);
}

void DownstreamConnection::onTrailers(HeaderMap&& t) {
  request_complete_ = true;
  if (stream_) stream_->decodeTrailers(std::move(t));
}

void DownstreamConnection::onMessageComplete(bool keep_alive) {
  request_complete_ = true;
  keep_alive_ = keep_alive;
  if (stream_) {
    waiting_ = true;  // one request at a time: parse the next once this response is done
  } else {
    parser_.resume();
    if (!keep_alive_) closing_ = true;
  }
}

namespace {
// An HTTP date (RFC 9110 IMF-fixdate), as Envoy's date provider writes it.
std::string httpDate() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}
}  // namespace

void DownstreamConnection::writeHeaders(const HeaderMap& h, bool end) {
  // What Envoy's connection manager does to every response after the filters (they do not see it), as
  // measured on 1.39/1.40: connection, proxy-connection, transfer-encoding and upgrade go (the codec
  // writes its own framing) but keep-alive stays; a date is added when there is none; server is its own.
  HeaderMap out = h;
  for (const char* k : {"connection", "proxy-connection", "transfer-encoding", "upgrade"}) out.remove(k);
  if (!out.get("date")) out.add("date", httpDate());
  out.set("server", "envoy");
  if (!keep_alive_ || !request_complete_) out.set("connection", "close");
  encoder_.encodeHeaders(bufferevent_get_output(bev_), out, end, false, head_request_);
}

void DownstreamConnection::writeData(std::string_view d, bool end) {
  encoder_.encodeData(bufferevent_get_output(bev_), d, end);
}

void DownstreamConnection::writeTrailers(const HeaderMap& t) {
  encoder_.encodeTrailers(bufferevent_get_output(bev_), t);
}

void DownstreamConnection::streamEnded(bool reset) {
  worker_.deferDelete(std::move(stream_));
  if (closed_) return;
  if (reset || !keep_alive_ || !request_complete_) {
    // HTTP/1.1 has no stream reset: the connection goes. A complete response is flushed first.
    if (reset) {
      close();
    } else {
      closing_ = true;
      bufferevent_disable(bev_, EV_READ);
      if (evbuffer_get_length(bufferevent_get_output(bev_)) == 0) close();
    }
    return;
  }
  waiting_ = false;
  parser_.resume();
  // Bytes of a pipelined next request may already be buffered.
  if (evbuffer_get_length(bufferevent_get_input(bev_)) > 0) {
    Worker* w = &worker_;
    w->post([w, self = this] {
      if (w->connections().count(self)) self->readMore();
    });
  }
}

}  // namespace host
