// Per-worker, per-cluster upstream connections: the load balancer's endpoint pick, then a pool of idle
// keep-alive HTTP/1.1 connections per endpoint, as Envoy keeps one HTTP/1 connection pool per host on
// each worker. Nothing is shared between workers, so nothing here locks.
#pragma once
#include <map>
#include <memory>
#include <vector>

#include "config.h"
#include "upstream.h"
#include "worker.h"

namespace host {

class ClusterPool {
 public:
  ClusterPool(Worker& w, const Cluster& c) : worker_(w), cluster_(c), idle_(c.endpoints.size()) {}
  ~ClusterPool();
  ClusterPool(const ClusterPool&) = delete;
  ClusterPool& operator=(const ClusterPool&) = delete;

  // A connection bound to cb: the most recently idle one to the picked endpoint, else a new one.
  // `only` pins the endpoint (a filter's upstream host override); null if the cluster has no such
  // endpoint. Without it the endpoint is picked round robin first, as Envoy's load balancer picks a
  // host before asking that host's pool for a connection.
  UpstreamConnection* newStream(UpstreamCallbacks* cb, bool head_request, const SocketAddress* only = nullptr);
  bool hasEndpoint(const SocketAddress& a) const { return find(a) >= 0; }
  Worker& worker() { return worker_; }
  const Cluster& cluster() const { return cluster_; }

  // From UpstreamConnection.
  void release(UpstreamConnection* c);  // both messages complete and keep-alive: idle until reused
  void discard(UpstreamConnection* c);  // closed: out of the pool, deleted after the current event

 private:
  long find(const SocketAddress& a) const;

  Worker& worker_;
  const Cluster& cluster_;
  size_t next_endpoint_ = 0;
  std::map<UpstreamConnection*, std::unique_ptr<UpstreamConnection>> conns_;
  // Per endpoint index; the most recently released last (reused first, like Envoy's ready list).
  std::vector<std::vector<UpstreamConnection*>> idle_;
};

}  // namespace host
