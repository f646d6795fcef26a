// HTTP/1.1 on the wire: an incremental parser (Debian's http-parser) that turns bytes into
// headers / data / trailers events with Envoy's end_stream convention, and the matching encoder.
#pragma once
#include <http_parser.h>

#include <string>
#include <string_view>

#include "http_message.h"

struct evbuffer;

namespace host {

class Http1Parser {
 public:
  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    virtual void onHeaders(HeaderMap&& headers, bool end_stream) = 0;
    virtual void onData(std::string_view data, bool end_stream) = 0;
    virtual void onTrailers(HeaderMap&& trailers) = 0;
    virtual void onMessageComplete(bool keep_alive) = 0;
  };

  // trailers: Envoy's http_protocol_options.enable_trailers. Off (Envoy's default), trailers on the
  // wire are parsed and dropped: the message ends with an empty end_stream data event instead.
  Http1Parser(bool request, Callbacks& cb, bool trailers);
  // Parses as much as possible; stops after each complete message (call resume() for the next).
  // Returns bytes consumed, or -1 on a protocol error.
  long feed(const char* data, size_t len);
  void resume() { http_parser_pause(&parser_, 0); }
  void expectNoBody() { no_body_ = true; }  // response to HEAD
  // For responses framed by connection close.
  void finishOnEof();
  bool midMessage() const { return in_message_; }
  // Whether the message being parsed lets the connection stay open (valid once its headers are parsed).
  bool keepAlive() const { return http_should_keep_alive(&parser_) != 0; }
  std::string error() const;

 private:
  static int onMessageBegin(http_parser* p);
  static int onUrl(http_parser* p, const char* at, size_t len);
  static int onStatus(http_parser* p, const char* at, size_t len);
  static int onHeaderField(http_parser* p, const char* at, size_t len);
  static int onHeaderValue(http_parser* p, const char* at, size_t len);
  static int onHeadersComplete(http_parser* p);
  static int onBody(http_parser* p, const char* at, size_t len);
  static int onMessageCompleteCb(http_parser* p);
  void flushHeader();

  http_parser parser_;
  http_parser_settings settings_{};
  Callbacks& cb_;
  bool request_;
  bool trailers_enabled_;
  bool in_message_ = false;
  bool headers_done_ = false;
  bool has_body_ = false;
  bool no_body_ = false;
  bool interim_ = false;  // parsing a 1xx response other than 101
  bool last_was_value_ = false;
  std::string url_, field_, value_;
  HeaderMap headers_;
  HeaderMap trailers_;
};

// Writes one message. Chooses content-length or chunked framing the way Envoy's HTTP/1 codec does.
class Http1Encoder {
 public:
  // trailers: enable_trailers for this side. Off, encodeTrailers ends the body without trailer lines.
  explicit Http1Encoder(bool trailers) : trailers_enabled_(trailers) {}
  void encodeHeaders(evbuffer* out, const HeaderMap& headers, bool end_stream, bool request,
                     bool head_response = false);
  void encodeData(evbuffer* out, std::string_view data, bool end_stream);
  void encodeTrailers(evbuffer* out, const HeaderMap& trailers);
  bool done() const { return done_; }

 private:
  bool trailers_enabled_;
  bool chunked_ = false;
  bool no_body_ = false;
  bool done_ = false;
};

const char* reasonPhrase(int status);

}  // namespace host
