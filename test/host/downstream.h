// A downstream HTTP/1.1 connection: parses requests one at a time (keep-alive), runs each as an
// ActiveStream and writes its response.
#pragma once
#include <event2/bufferevent.h>

#include <memory>
#include <string>

#include "http1_codec.h"
#include "stream.h"
#include "worker.h"

namespace host {

class DownstreamConnection : public Deletable, private Http1Parser::Callbacks, public DownstreamSink {
 public:
  DownstreamConnection(Worker& w, ListenerRuntime& l, evutil_socket_t fd, std::string remote, std::string local);
  ~DownstreamConnection() override;
  void close();  // resets the active stream, frees later

 private:
  static void onRead(bufferevent*, void* arg);
  static void onWrite(bufferevent*, void* arg);
  static void onEvent(bufferevent*, short what, void* arg);
  void readMore();
  // Http1Parser::Callbacks
  void onHeaders(HeaderMap&& h, bool end) override;
  void onData(std::string_view d, bool end) override;
  void onTrailers(HeaderMap&& t) override;
  void onMessageComplete(bool keep_alive) override;
  // DownstreamSink
  void writeHeaders(const HeaderMap& h, bool end_stream) override;
  void writeData(std::string_view d, bool end_stream) override;
  void writeTrailers(const HeaderMap& t) override;
  void streamEnded(bool reset) override;
  std::string remoteAddress() const override { return remote_; }
  std::string localAddress() const override { return local_; }

  Worker& worker_;
  ListenerRuntime& listener_;
  bufferevent* bev_;
  Http1Parser parser_;
  Http1Encoder encoder_;
  std::unique_ptr<ActiveStream> stream_;
  std::string remote_, local_;
  bool request_complete_ = false;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool closing_ = false;  // close once the output is flushed
  bool closed_ = false;
  bool waiting_ = false;  // a full request was read; its response is not done yet
  uint64_t next_stream_id_ = 1;
};

}  // namespace host
