// The listener's runtime: filter configs and routes built once on the main thread, read by workers.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "filter_config.h"

namespace host {

struct RouteEntry {
  const Route* route = nullptr;
  const VirtualHost* vhost = nullptr;
  std::map<std::string, std::unique_ptr<PerRouteConfig>> route_configs;  // by http filter name
  std::map<std::string, PerRouteConfig*>* vhost_configs = nullptr;
};

struct VirtualHostEntry {
  const VirtualHost* vhost = nullptr;
  std::map<std::string, std::unique_ptr<PerRouteConfig>> configs;
  std::map<std::string, PerRouteConfig*> config_ptrs;
  std::vector<std::unique_ptr<RouteEntry>> routes;
};

struct ListenerRuntime {
  const Listener* config = nullptr;
  int fd = -1;
  std::vector<std::unique_ptr<FilterConfig>> filters;  // without the router
  std::vector<std::unique_ptr<VirtualHostEntry>> vhosts;

  // Envoy's matching: virtual host by :authority (exact, then "*"), then the first matching route.
  const RouteEntry* match(std::string_view authority, std::string_view path) const;
  // Most specific per-route config for a filter: route, then virtual host.
  static const PerRouteConfig* perRoute(const RouteEntry* r, const std::string& filter_name);
};

// Builds filter configs (resolving hooks, calling config_new) and per-route configs. Throws on rejection.
std::unique_ptr<ListenerRuntime> buildListener(const Listener& l);

}  // namespace host
