// One upstream HTTP/1.1 connection (the router's and the callouts' way out). Connections live in a
// ClusterPool (cluster_pool.h), which reuses them between requests as Envoy's HTTP/1 pool does.
#pragma once
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <cstddef>
#include <memory>
#include <string>

#include "config.h"
#include "http1_codec.h"
#include "worker.h"

namespace host {

class UpstreamCallbacks {
 public:
  virtual ~UpstreamCallbacks() = default;
  virtual void onUpstreamHeaders(HeaderMap&& headers, bool end_stream) = 0;
  virtual void onUpstreamData(std::string_view data, bool end_stream) = 0;
  virtual void onUpstreamTrailers(HeaderMap&& trailers) = 0;
  // reason: connection_failure | connection_termination | protocol_error
  virtual void onUpstreamReset(const std::string& reason) = 0;
};

class ClusterPool;

// Carries one request at a time. Once the response ended (end_stream delivered) or it was reset, it
// no longer calls its owner and the owner must forget it; the pool then keeps it idle for the next
// request (both messages complete, keep-alive) or closes it.
class UpstreamConnection : public Deletable, private Http1Parser::Callbacks {
 public:
  UpstreamConnection(ClusterPool& pool, size_t endpoint);
  ~UpstreamConnection() override;
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  void attach(UpstreamCallbacks* cb, bool head_request);
  void sendHeaders(const HeaderMap& h, bool end_stream);
  void sendData(std::string_view d, bool end_stream);
  void sendTrailers(const HeaderMap& t);
  // The owner is done with the connection. Mid-message it is closed (never reused with half a message
  // on the wire); after the response's end_stream it goes back to the pool if it can be reused.
  void cancel();
  size_t endpoint() const { return endpoint_; }
  bool closed() const { return closed_; }

 private:
  static void onRead(bufferevent*, void* arg);
  static void onEvent(bufferevent*, short what, void* arg);
  static void onConnectFailed(evutil_socket_t, short, void* arg);
  void onHeaders(HeaderMap&& h, bool end) override;
  void onData(std::string_view d, bool end) override;
  void onTrailers(HeaderMap&& t) override;
  void onMessageComplete(bool keep_alive) override;
  void reset(const std::string& reason);
  void close();
  void maybeRelease();

  ClusterPool& pool_;
  size_t endpoint_;  // index into the cluster's endpoints
  bufferevent* bev_ = nullptr;
  std::unique_ptr<event, decltype(&event_free)> failed_{nullptr, &event_free};
  Http1Parser parser_;
  Http1Encoder encoder_;
  UpstreamCallbacks* cb_ = nullptr;
  bool connected_ = false;
  bool closed_ = false;
  bool request_done_ = false;
  bool end_delivered_ = false;  // the owner got the response's end_stream
  bool response_done_ = false;  // the parser finished the response message
  bool keep_alive_ = true;
};

// How a reset reason reads in the body of Envoy's 503 ("connection termination"); the response code
// details keep the identifier form ("connection_termination").
std::string resetReasonText(const std::string& reason);

}  // namespace host
