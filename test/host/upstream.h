// Upstream HTTP/1.1: per-worker, per-cluster pools of keep-alive connections (the router's and the
// callouts' way out).
#pragma once
#include <event2/bufferevent.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

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

// One connection; carries one request at a time. After the response ends (or a reset) it no longer
// calls its owner, and the owner must forget it.
class UpstreamConnection : public Deletable, private Http1Parser::Callbacks {
 public:
  UpstreamConnection(ClusterPool& pool, const SocketAddress& addr);
  ~UpstreamConnection() override;
  void attach(UpstreamCallbacks* cb, bool head_request);
  void sendHeaders(const HeaderMap& h, bool end_stream);
  void sendData(std::string_view d, bool end_stream);
  void sendTrailers(const HeaderMap& t);
  void cancel();  // the owner gives up: the connection is closed, never reused mid-message
  const SocketAddress& address() const { return addr_; }

 private:
  friend class ClusterPool;
  static void onRead(bufferevent*, void* arg);
  static void onEvent(bufferevent*, short what, void* arg);
  void onHeaders(HeaderMap&& h, bool end) override;
  void onData(std::string_view d, bool end) override;
  void onTrailers(HeaderMap&& t) override;
  void onMessageComplete(bool keep_alive) override;
  void reset(const std::string& reason);
  void close();
  void maybeRelease();

  ClusterPool& pool_;
  SocketAddress addr_;
  bufferevent* bev_ = nullptr;
  Http1Parser parser_;
  Http1Encoder encoder_;
  UpstreamCallbacks* cb_ = nullptr;
  bool connected_ = false;
  bool closed_ = false;
  bool request_done_ = false;
  bool response_done_ = false;
  bool keep_alive_ = true;
};

class ClusterPool {
 public:
  ClusterPool(Worker& w, const Cluster& c) : worker_(w), cluster_(c) {}
  ~ClusterPool();
  ClusterPool(const ClusterPool&) = delete;
  ClusterPool& operator=(const ClusterPool&) = delete;
  // A connection bound to cb, reused from the idle list when possible. `only` pins the endpoint
  // (a filter's upstream host override); null if the cluster has no such endpoint.
  UpstreamConnection* newStream(UpstreamCallbacks* cb, bool head_request, const SocketAddress* only = nullptr);
  bool hasEndpoint(const SocketAddress& a) const;
  Worker& worker() { return worker_; }
  const Cluster& cluster() const { return cluster_; }

 private:
  friend class UpstreamConnection;
  void release(UpstreamConnection* c);  // back to idle
  void discard(UpstreamConnection* c);  // closed: deferred delete

  Worker& worker_;
  const Cluster& cluster_;
  size_t next_endpoint_ = 0;
  std::map<UpstreamConnection*, std::unique_ptr<UpstreamConnection>> conns_;
  std::vector<UpstreamConnection*> idle_;
};

}  // namespace host
