#include "http1_codec.h"

#include <event2/buffer.h>

#include <climits>
#include <cstring>

namespace host {

Http1Parser::Http1Parser(bool request, Callbacks& cb, bool trailers)
    : cb_(cb), request_(request), trailers_enabled_(trailers) {
  http_parser_init(&parser_, request ? HTTP_REQUEST : HTTP_RESPONSE);
  parser_.data = this;
  settings_.on_message_begin = onMessageBegin;
  settings_.on_url = onUrl;
  settings_.on_status = onStatus;
  settings_.on_header_field = onHeaderField;
  settings_.on_header_value = onHeaderValue;
  settings_.on_headers_complete = onHeadersComplete;
  settings_.on_body = onBody;
  settings_.on_message_complete = onMessageCompleteCb;
}

long Http1Parser::feed(const char* data, size_t len) {
  size_t n = http_parser_execute(&parser_, &settings_, data, len);
  auto err = HTTP_PARSER_ERRNO(&parser_);
  if (err != HPE_OK && err != HPE_PAUSED) return -1;
  return static_cast<long>(n);
}

void Http1Parser::finishOnEof() {
  http_parser_execute(&parser_, &settings_, nullptr, 0);
}

std::string Http1Parser::error() const {
  return http_errno_description(HTTP_PARSER_ERRNO(&parser_));
}

int Http1Parser::onMessageBegin(http_parser* p) {
  auto* self = static_cast<Http1Parser*>(p->data);
  self->in_message_ = true;
  self->headers_done_ = false;
  self->has_body_ = false;
  self->last_was_value_ = false;
  self->url_.clear();
  self->field_.clear();
  self->value_.clear();
  self->headers_ = HeaderMap();
  self->trailers_ = HeaderMap(self->request_ ? HeaderKind::RequestTrailers : HeaderKind::ResponseTrailers);
  return 0;
}

int Http1Parser::onUrl(http_parser* p, const char* at, size_t len) {
  static_cast<Http1Parser*>(p->data)->url_.append(at, len);
  return 0;
}

int Http1Parser::onStatus(http_parser*, const char*, size_t) {
  return 0;
}

void Http1Parser::flushHeader() {
  if (field_.empty()) return;
  (headers_done_ ? trailers_ : headers_).add(field_, value_);
  field_.clear();
  value_.clear();
}

int Http1Parser::onHeaderField(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<Http1Parser*>(p->data);
  if (self->last_was_value_) self->flushHeader();
  self->last_was_value_ = false;
  self->field_.append(at, len);
  return 0;
}

int Http1Parser::onHeaderValue(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<Http1Parser*>(p->data);
  self->last_was_value_ = true;
  self->value_.append(at, len);
  return 0;
}

int Http1Parser::onHeadersComplete(http_parser* p) {
  auto* self = static_cast<Http1Parser*>(p->data);
  self->flushHeader();
  self->last_was_value_ = false;
  self->headers_done_ = true;
  const bool chunked = (p->flags & F_CHUNKED) != 0;
  const bool has_cl = p->content_length != ULLONG_MAX && p->content_length != 0;
  if (!self->request_ && p->status_code / 100 == 1 && p->status_code != 101) {
    // An interim response (100 Continue, 103 Early Hints): Envoy's default (proxy_100_continue off)
    // consumes it; the real response follows on the same connection.
    self->interim_ = true;
    return 0;
  }
  HeaderMap h(self->request_ ? HeaderKind::RequestHeaders : HeaderKind::ResponseHeaders);
  if (self->request_) {
    // Envoy's order: ":authority" as Host is read, then :path, :method and :scheme; repeated Host lines
    // join (":authority" is inline). Hop-by-hop headers are the connection manager's to strip.
    for (auto& [k, v] : self->headers_.entries()) h.add(k, v);
    h.add(":path", self->url_);
    h.add(":method", http_method_str(static_cast<http_method>(p->method)));
    h.add(":scheme", "http");
    self->has_body_ = chunked || has_cl;
  } else {
    h.add(":status", std::to_string(p->status_code));
    const bool bodiless = self->no_body_ || p->status_code == 204 || p->status_code == 304 || p->status_code / 100 == 1;
    self->has_body_ =
        !bodiless && (chunked || has_cl || (p->content_length == ULLONG_MAX && !http_should_keep_alive(p)));
    // Filters on Envoy see the upstream's connection and transfer-encoding as received (the connection
    // manager strips them on the way out); keep-alive never reaches them.
    for (auto& [k, v] : self->headers_.entries())
      if (k != "keep-alive") h.add(k, v);
  }
  self->cb_.onHeaders(std::move(h), !self->has_body_);
  // 1: tell http-parser there is no body (HEAD responses).
  return self->no_body_ ? 1 : 0;
}

int Http1Parser::onBody(http_parser* p, const char* at, size_t len) {
  static_cast<Http1Parser*>(p->data)->cb_.onData(std::string_view(at, len), false);
  return 0;
}

int Http1Parser::onMessageCompleteCb(http_parser* p) {
  auto* self = static_cast<Http1Parser*>(p->data);
  if (self->interim_) {  // nothing of it reaches the owner; go on parsing the final response
    self->interim_ = false;
    return 0;
  }
  if (self->last_was_value_) self->flushHeader();
  self->in_message_ = false;
  const bool keep_alive = http_should_keep_alive(p) != 0;
  if (self->has_body_) {
    if (self->trailers_.size() > 0 && self->trailers_enabled_)
      self->cb_.onTrailers(std::move(self->trailers_));
    else
      self->cb_.onData(std::string_view(), true);
  }
  self->no_body_ = false;
  http_parser_pause(p, 1);
  self->cb_.onMessageComplete(keep_alive);
  return 0;
}

namespace {
void writeHeaderLines(evbuffer* out, const HeaderMap& h, bool skip_framing) {
  for (const auto& [k, v] : h.entries()) {
    if (k.empty()) continue;
    if (k[0] == ':') {
      // Envoy's HTTP/1 encoder writes a pseudo-header whose name starts ":a" (":authority", but also any
      // other a module made up) as a Host line, in requests and responses alike; the rest are dropped.
      if (k.size() > 1 && k[1] == 'a') evbuffer_add_printf(out, "host: %s\r\n", v.c_str());
      continue;
    }
    if (skip_framing && (k == "transfer-encoding" || k == "content-length")) continue;
    evbuffer_add_printf(out, "%s: %s\r\n", k.c_str(), v.c_str());
  }
}
}  // namespace

void Http1Encoder::encodeHeaders(evbuffer* out, const HeaderMap& h, bool end_stream, bool request, bool head_response) {
  int status = 0;
  if (request) {
    auto method = h.get(":method").value_or("GET");
    auto path = h.get(":path").value_or("/");
    evbuffer_add_printf(out, "%.*s %.*s HTTP/1.1\r\n", static_cast<int>(method.size()), method.data(),
                        static_cast<int>(path.size()), path.data());
  } else {
    status = h.get(":status") ? statusCode(h) : 500;
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, reasonPhrase(status));
  }
  no_body_ = head_response || status == 204 || status == 304;
  const bool has_cl = h.get("content-length").has_value();
  chunked_ = false;
  writeHeaderLines(out, h, false);
  if (!has_cl && !no_body_) {
    if (end_stream) {
      if (!request) evbuffer_add_printf(out, "content-length: 0\r\n");
    } else {
      chunked_ = true;
      evbuffer_add_printf(out, "transfer-encoding: chunked\r\n");
    }
  }
  evbuffer_add(out, "\r\n", 2);
  done_ = end_stream;
}

void Http1Encoder::encodeData(evbuffer* out, std::string_view data, bool end_stream) {
  if (!no_body_) {
    if (chunked_) {
      if (!data.empty()) {
        evbuffer_add_printf(out, "%zx\r\n", data.size());
        evbuffer_add(out, data.data(), data.size());
        evbuffer_add(out, "\r\n", 2);
      }
      if (end_stream) evbuffer_add(out, "0\r\n\r\n", 5);
    } else {
      evbuffer_add(out, data.data(), data.size());
    }
  }
  done_ = end_stream;
}

void Http1Encoder::encodeTrailers(evbuffer* out, const HeaderMap& t) {
  if (chunked_) {
    evbuffer_add(out, "0\r\n", 3);
    if (trailers_enabled_) writeHeaderLines(out, t, true);
    evbuffer_add(out, "\r\n", 2);
  }
  done_ = true;
}

const char* reasonPhrase(int s) {
  switch (s) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

}  // namespace host
