#include "route_table.h"

namespace host {

namespace {
std::unique_ptr<PerRouteConfig> makePerRoute(const PerRouteFilterConfig& c, const Listener& l, const std::string& key) {
  DynamicModuleRef ref = c.module;
  if (ref.name.empty()) {
    // Envoy requires dynamic_module_config on per-route configs; borrow the filter's when the names agree.
    for (const auto& f : l.http_filters)
      if (f.name == key) ref = f.module;
  }
  if (ref.name.empty())
    throw std::runtime_error("config: typed_per_filter_config." + key + " names no dynamic_module_config");
  return std::make_unique<PerRouteConfig>(c, loadDynamicModule(ref));
}
}  // namespace

std::unique_ptr<ListenerRuntime> buildListener(const Listener& l) {
  auto rt = std::make_unique<ListenerRuntime>();
  rt->config = &l;
  for (const auto& f : l.http_filters) {
    if (f.is_router) continue;
    rt->filters.push_back(std::make_unique<FilterConfig>(f, loadDynamicModule(f.module)));
  }
  for (const auto& vh : l.virtual_hosts) {
    auto v = std::make_unique<VirtualHostEntry>();
    v->vhost = &vh;
    for (const auto& [k, c] : vh.per_filter) {
      v->configs[k] = makePerRoute(c, l, k);
      v->config_ptrs[k] = v->configs[k].get();
    }
    for (const auto& r : vh.routes) {
      auto e = std::make_unique<RouteEntry>();
      e->route = &r;
      e->vhost = &vh;
      e->vhost_configs = &v->config_ptrs;
      for (const auto& [k, c] : r.per_filter) e->route_configs[k] = makePerRoute(c, l, k);
      v->routes.push_back(std::move(e));
    }
    rt->vhosts.push_back(std::move(v));
  }
  return rt;
}

const RouteEntry* ListenerRuntime::match(std::string_view authority, std::string_view path) const {
  auto host = authority.substr(0, authority.find(':'));
  const VirtualHostEntry* chosen = nullptr;
  for (const auto& v : vhosts)
    for (const auto& d : v->vhost->domains)
      if (!chosen && (d == authority || d == host)) chosen = v.get();
  if (!chosen)
    for (const auto& v : vhosts)
      for (const auto& d : v->vhost->domains)
        if (!chosen && d == "*") chosen = v.get();
  if (!chosen) return nullptr;
  auto p = path.substr(0, path.find('?'));
  for (const auto& r : chosen->routes) {
    if (r->route->path ? p == *r->route->path : path.substr(0, r->route->prefix.size()) == r->route->prefix)
      return r.get();
  }
  return nullptr;
}

const PerRouteConfig* ListenerRuntime::perRoute(const RouteEntry* r, const std::string& filter_name) {
  if (!r) return nullptr;
  if (auto it = r->route_configs.find(filter_name); it != r->route_configs.end()) return it->second.get();
  if (auto it = r->vhost_configs->find(filter_name); it != r->vhost_configs->end()) return it->second;
  return nullptr;
}

}  // namespace host
