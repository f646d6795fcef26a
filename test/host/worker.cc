#include "worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstring>

#include "downstream.h"
#include "log.h"
#include "route_table.h"
#include "cluster_pool.h"

namespace host {

namespace {
thread_local Worker* t_current = nullptr;

std::string addrString(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(in->sin_port));
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
  inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
  return "[" + std::string(buf) + "]:" + std::to_string(ntohs(in6->sin6_port));
}
}  // namespace

Worker* Worker::current() {
  return t_current;
}

Worker::Worker(uint32_t index, const HostOptions& opts, const std::vector<ListenerRuntime*>& listeners)
    : index_(index), opts_(opts), listeners_(listeners) {
  base_ = event_base_new();
  posted_ev_ = event_new(base_, -1, 0, onPosted, this);
  deferred_ev_ = event_new(base_, -1, 0, onDeferred, this);
  for (auto* l : listeners_) {
    accept_ctx_.push_back(std::make_unique<AcceptCtx>(AcceptCtx{this, l}));
    // Every worker accepts on the one socket the main thread bound, as Envoy's workers share a listener.
    auto* el = evconnlistener_new(base_, onAccept, accept_ctx_.back().get(), LEV_OPT_REUSEABLE, -1, l->fd);
    evconnlistener_disable(el);
    evlisteners_.push_back(el);
  }
}

Worker::~Worker() {
  for (auto* el : evlisteners_) {
    // The fd belongs to the main thread's listener: detach it before freeing.
    evconnlistener_free(el);
  }
  pools_.clear();
  deferred_.clear();
  event_free(posted_ev_);
  event_free(deferred_ev_);
  event_base_free(base_);
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::run() {
  t_current = this;
  thread_id_ = std::this_thread::get_id();
  for (auto* el : evlisteners_) evconnlistener_enable(el);
  event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY);
  // Shutdown: reset what is still running so every stream gets stream_complete and destroy here.
  for (auto* el : evlisteners_) evconnlistener_disable(el);
  std::vector<Deletable*> live(connections_.begin(), connections_.end());
  for (auto* c : live) static_cast<DownstreamConnection*>(c)->close();
  pools_.clear();
  onDeferred(-1, 0, this);
  t_current = nullptr;
}

void Worker::stop() {
  post([this] { event_base_loopbreak(base_); });
  if (thread_.joinable()) thread_.join();
}

void Worker::post(std::function<void()> fn) {
  {
    std::lock_guard lock(post_mu_);
    posted_.push_back(std::move(fn));
  }
  event_active(posted_ev_, 0, 0);
}

void Worker::onPosted(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Worker*>(arg);
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(self->post_mu_);
    batch.swap(self->posted_);
  }
  for (auto& fn : batch) fn();
}

void Worker::deferDelete(std::unique_ptr<Deletable> d) {
  if (!d) return;
  deferred_.push_back(std::move(d));
  event_active(deferred_ev_, 0, 0);
}

void Worker::onDeferred(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Worker*>(arg);
  while (!self->deferred_.empty()) {
    auto batch = std::move(self->deferred_);
    self->deferred_.clear();
    batch.clear();  // destructors may defer more
  }
}

ClusterPool* Worker::pool(const std::string& cluster) {
  auto it = pools_.find(cluster);
  if (it != pools_.end()) return it->second.get();
  for (const auto& c : opts_.bootstrap->clusters)
    if (c.name == cluster) return (pools_[cluster] = std::make_unique<ClusterPool>(*this, c)).get();
  fatal("unknown cluster " + cluster);
}

void Worker::leaveHook() {
  if (--hook_depth_ > 0) return;
  // The hook that borrowed these bytes has returned: a module still holding them reads garbage
  // (or trips ASan on the freed block).
  for (auto& [p, n] : lent_) std::memset(p.get(), 0xdb, n);
  lent_.clear();
}

const char* Worker::lend(std::string_view bytes) {
  if (!opts_.check_lifetimes) return bytes.data();
  return lendCopy(bytes);
}

const char* Worker::lendCopy(std::string_view bytes) {
  auto copy = std::make_unique<char[]>(bytes.size() + 1);
  std::memcpy(copy.get(), bytes.data(), bytes.size());
  const char* p = copy.get();
  lent_.emplace_back(std::move(copy), bytes.size() + 1);
  return p;
}

void Worker::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int, void* arg) {
  auto* ctx = static_cast<AcceptCtx*>(arg);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_storage local{};
  socklen_t llen = sizeof local;
  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen);
  auto conn = std::make_unique<DownstreamConnection>(*ctx->worker, *ctx->listener, fd, addrString(addr),
                                                     addrString(reinterpret_cast<sockaddr*>(&local)));
  conn.release();  // owned by the worker's connection set; freed through deferred deletion on close
}

}  // namespace host
