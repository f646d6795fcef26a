// The subset of Envoy's bootstrap (v3, field names as Envoy spells them) the ABI host understands.
// Anything outside this subset is a startup error naming the field: a config that runs here must mean
// the same thing on a real Envoy.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace host {

struct SocketAddress {
  std::string address;
  uint16_t port = 0;
};

struct DynamicModuleRef {
  std::string name;
  bool do_not_close = false;
  bool load_globally = false;
  std::string metrics_namespace = "dynamicmodulescustom";
};

struct PerRouteFilterConfig {
  DynamicModuleRef module;
  std::string per_route_config_name;
  std::string filter_config;  // bytes handed to the module (JSON for Struct)
  bool disabled = false;
};

struct DirectResponse {
  uint32_t status = 200;
  std::string body;
};

struct Route {
  std::string name;
  std::string prefix;               // match.prefix
  std::optional<std::string> path;  // match.path (exact)
  std::string cluster;
  uint64_t timeout_ms = 15000;  // route.timeout, Envoy's default 15s; 0 disables
  std::optional<DirectResponse> direct_response;
  std::map<std::string, PerRouteFilterConfig> per_filter;  // key: http filter name
};

struct VirtualHost {
  std::string name;
  std::vector<std::string> domains;
  std::vector<Route> routes;
  std::map<std::string, PerRouteFilterConfig> per_filter;
};

struct HttpFilterConfig {
  std::string name;  // the http_filters[].name, also the typed_per_filter_config key
  bool is_router = false;
  DynamicModuleRef module;
  std::string filter_name;
  std::string filter_config;
};

struct Listener {
  std::string name;
  SocketAddress address;
  std::string stat_prefix;
  std::vector<VirtualHost> virtual_hosts;
  std::vector<HttpFilterConfig> http_filters;  // the router last
  uint64_t buffer_limit = 1024 * 1024;         // per_connection_buffer_limit_bytes
  bool enable_trailers = false;                // http_protocol_options.enable_trailers: the downstream codec's trailers
};

struct Cluster {
  std::string name;
  std::vector<SocketAddress> endpoints;
  uint64_t connect_timeout_ms = 5000;
  // typed_extension_protocol_options' HttpProtocolOptions explicit_http_config.http_protocol_options
  // .enable_trailers: the upstream codec's trailers.
  bool enable_trailers = false;
};

struct Bootstrap {
  std::vector<Listener> listeners;
  std::vector<Cluster> clusters;
  std::optional<SocketAddress> admin;
  uint64_t stats_flush_interval_ms = 5000;  // Envoy's default; histograms show samples after a flush
};

// Throws std::runtime_error with the offending field's path on anything unsupported or malformed.
Bootstrap loadBootstrap(const std::string& path);

}  // namespace host
