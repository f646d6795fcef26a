#include "cluster_pool.h"

#include <algorithm>

namespace host {

ClusterPool::~ClusterPool() = default;

long ClusterPool::find(const SocketAddress& a) const {
  const auto& eps = cluster_.endpoints;
  for (size_t i = 0; i < eps.size(); i++)
    if (eps[i].address == a.address && eps[i].port == a.port) return static_cast<long>(i);
  return -1;
}

UpstreamConnection* ClusterPool::newStream(UpstreamCallbacks* cb, bool head_request, const SocketAddress* only) {
  size_t ep;
  if (only) {
    const long i = find(*only);
    if (i < 0) return nullptr;
    ep = static_cast<size_t>(i);
  } else {
    ep = next_endpoint_++ % cluster_.endpoints.size();
  }
  UpstreamConnection* c = nullptr;
  auto& idle = idle_[ep];
  // A connection the upstream closed left this list when its close was read (discard), so whatever
  // is here was open at the last look; one closing right now fails its request, as on Envoy.
  if (!idle.empty()) {
    c = idle.back();
    idle.pop_back();
  } else {
    auto owned = std::make_unique<UpstreamConnection>(*this, ep);
    c = owned.get();
    conns_[c] = std::move(owned);
  }
  c->attach(cb, head_request);
  return c;
}

void ClusterPool::release(UpstreamConnection* c) {
  auto& idle = idle_[c->endpoint()];
  if (std::find(idle.begin(), idle.end(), c) == idle.end()) idle.push_back(c);
}

void ClusterPool::discard(UpstreamConnection* c) {
  std::erase(idle_[c->endpoint()], c);
  auto it = conns_.find(c);
  if (it == conns_.end()) return;
  worker_.deferDelete(std::move(it->second));
  conns_.erase(it);
}

}  // namespace host
