#include "config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

namespace host {
namespace {

constexpr const char* kDynamicModuleFilter =
    "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter";
constexpr const char* kDynamicModulePerRoute =
    "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilterPerRoute";
constexpr const char* kRouter = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
constexpr const char* kHcm =
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
constexpr const char* kUpstreamHttpOptionsName = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
constexpr const char* kUpstreamHttpOptions =
    "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("config: " + path + ": " + what);
}

// A YAML mapping whose every key must be read: done() rejects the ones nobody asked for, so an
// unsupported field is never silently ignored.
class Obj {
 public:
  Obj(const YAML::Node& n, std::string path) : node_(n), path_(std::move(path)) {
    if (!n.IsMap()) fail(path_, "expected a mapping");
  }
  ~Obj() = default;
  Obj(const Obj&) = delete;
  Obj& operator=(const Obj&) = delete;

  bool has(const std::string& k) { return node_[k].IsDefined() && !node_[k].IsNull(); }
  YAML::Node get(const std::string& k) {
    seen_.insert(k);
    return node_[k];
  }
  std::string field(const std::string& k) const { return path_.empty() ? k : path_ + "." + k; }
  const std::string& path() const { return path_; }

  std::string str(const std::string& k, std::optional<std::string> def = std::nullopt) {
    auto n = get(k);
    if (!n.IsDefined() || n.IsNull()) {
      if (def) return *def;
      fail(field(k), "required field missing");
    }
    if (!n.IsScalar()) fail(field(k), "expected a string");
    return n.as<std::string>();
  }
  uint64_t u64(const std::string& k, std::optional<uint64_t> def = std::nullopt) {
    auto n = get(k);
    if (!n.IsDefined() || n.IsNull()) {
      if (def) return *def;
      fail(field(k), "required field missing");
    }
    try {
      return n.as<uint64_t>();
    } catch (const YAML::Exception&) {
      fail(field(k), "expected an unsigned integer");
    }
  }
  bool boolean(const std::string& k, bool def) {
    auto n = get(k);
    if (!n.IsDefined() || n.IsNull()) return def;
    try {
      return n.as<bool>();
    } catch (const YAML::Exception&) {
      fail(field(k), "expected a boolean");
    }
  }
  template <typename F>
  void list(const std::string& k, F&& each) {
    auto n = get(k);
    if (!n.IsDefined() || n.IsNull()) return;
    if (!n.IsSequence()) fail(field(k), "expected a list");
    for (size_t i = 0; i < n.size(); i++) each(n[i], field(k) + "[" + std::to_string(i) + "]");
  }
  void done() {
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      auto key = it->first.as<std::string>();
      if (!seen_.count(key)) fail(field(key), "field not supported by nodevoy-host");
    }
  }

 private:
  YAML::Node node_;
  std::string path_;
  std::set<std::string> seen_;
};

// Envoy renders google.protobuf.Struct as JSON: numbers are doubles, plain scalars typed, quoted ones strings.
nlohmann::json toJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Sequence: {
      auto a = nlohmann::json::array();
      for (const auto& e : n) a.push_back(toJson(e));
      return a;
    }
    case YAML::NodeType::Map: {
      auto o = nlohmann::json::object();
      for (auto it = n.begin(); it != n.end(); ++it) o[it->first.as<std::string>()] = toJson(it->second);
      return o;
    }
    default: {
      const auto s = n.as<std::string>();
      if (n.Tag() == "!") return s;  // quoted
      if (s == "true" || s == "false") return s == "true";
      if (s == "null" || s == "~") return nullptr;
      try {
        size_t used = 0;
        double d = std::stod(s, &used);
        // Envoy's (protobuf's) JSON printer writes integral doubles without a fraction: 403, not 403.0.
        if (used == s.size() && std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9007199254740992.0)
          return static_cast<int64_t>(d);
        if (used == s.size()) return d;
      } catch (const std::exception&) {
      }
      return s;
    }
  }
}

std::string base64Decode(const std::string& in, const std::string& path) {
  static const std::string tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    if (c == '=') break;
    auto p = tbl.find(c);
    if (p == std::string::npos) fail(path, "invalid base64");
    val = (val << 6) + static_cast<int>(p);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

// google.protobuf.Any holding what the module receives as config bytes.
std::string anyToBytes(const YAML::Node& n, const std::string& path) {
  if (!n.IsDefined() || n.IsNull()) return "";
  Obj o(n, path);
  const auto type = o.str("@type");
  std::string out;
  if (type == "type.googleapis.com/google.protobuf.StringValue") {
    out = o.str("value", "");
  } else if (type == "type.googleapis.com/google.protobuf.BytesValue") {
    out = base64Decode(o.str("value", ""), o.field("value"));
  } else if (type == "type.googleapis.com/google.protobuf.Struct") {
    auto v = o.get("value");
    out = (v.IsDefined() && !v.IsNull()) ? toJson(v).dump() : "{}";
    if (v.IsDefined() && !v.IsNull() && !v.IsMap()) fail(o.field("value"), "a Struct must be a mapping");
  } else {
    fail(o.field("@type"), "unsupported config type '" + type + "' (StringValue, BytesValue or Struct)");
  }
  o.done();
  return out;
}

SocketAddress socketAddress(const YAML::Node& n, const std::string& path) {
  Obj addr(n, path);
  Obj sa(addr.get("socket_address"), addr.field("socket_address"));
  SocketAddress out;
  out.address = sa.str("address");
  const auto port = sa.u64("port_value");
  if (port > 65535) fail(sa.field("port_value"), "out of range");
  out.port = static_cast<uint16_t>(port);
  if (sa.has("protocol") && sa.str("protocol") != "TCP") fail(sa.field("protocol"), "only TCP");
  sa.done();
  addr.done();
  return out;
}

DynamicModuleRef moduleRef(const YAML::Node& n, const std::string& path) {
  Obj o(n, path);
  DynamicModuleRef m;
  m.name = o.str("name");
  m.do_not_close = o.boolean("do_not_close", false);
  m.load_globally = o.boolean("load_globally", false);
  m.metrics_namespace = o.str("metrics_namespace", "dynamicmodulescustom");
  o.done();
  return m;
}

std::map<std::string, PerRouteFilterConfig> perFilter(Obj& parent) {
  std::map<std::string, PerRouteFilterConfig> out;
  auto n = parent.get("typed_per_filter_config");
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsMap()) fail(parent.field("typed_per_filter_config"), "expected a mapping");
  for (auto it = n.begin(); it != n.end(); ++it) {
    const auto key = it->first.as<std::string>();
    Obj o(it->second, parent.field("typed_per_filter_config") + "." + key);
    if (o.str("@type") != kDynamicModulePerRoute)
      fail(o.field("@type"), "only DynamicModuleFilterPerRoute is supported");
    PerRouteFilterConfig c;
    if (o.has("dynamic_module_config"))
      c.module = moduleRef(o.get("dynamic_module_config"), o.field("dynamic_module_config"));
    else
      o.get("dynamic_module_config");
    c.per_route_config_name = o.str("per_route_config_name", "");
    c.filter_config = anyToBytes(o.get("filter_config"), o.field("filter_config"));
    c.disabled = o.boolean("disabled", false);
    o.done();
    out[key] = std::move(c);
  }
  return out;
}

double durationSeconds(const std::string& s, const std::string& path) {
  // protobuf Duration in JSON/YAML form: "0.25s", "5s"
  if (s.empty() || s.back() != 's') fail(path, "expected a duration like \"5s\"");
  try {
    return std::stod(s.substr(0, s.size() - 1));
  } catch (const std::exception&) {
    fail(path, "expected a duration like \"5s\"");
  }
}

uint64_t durationMs(const std::string& s, const std::string& path) {
  return static_cast<uint64_t>(durationSeconds(s, path) * 1000);
}

// Http1ProtocolOptions (the HCM's http_protocol_options, and a cluster's explicit HTTP/1 config): only
// enable_trailers, which decides whether that side's HTTP/1 codec passes trailers or drops them.
bool http1EnableTrailers(const YAML::Node& n, const std::string& path) {
  if (!n.IsDefined() || n.IsNull()) return false;
  Obj o(n, path);
  const bool on = o.boolean("enable_trailers", false);
  o.done();
  return on;
}

// typed_extension_protocol_options: only the upstream HttpProtocolOptions with an explicit HTTP/1 config.
bool upstreamEnableTrailers(Obj& cluster) {
  auto n = cluster.get("typed_extension_protocol_options");
  if (!n.IsDefined() || n.IsNull()) return false;
  const auto path = cluster.field("typed_extension_protocol_options");
  if (!n.IsMap()) fail(path, "expected a mapping");
  bool on = false;
  for (auto it = n.begin(); it != n.end(); ++it) {
    const auto key = it->first.as<std::string>();
    if (key != kUpstreamHttpOptionsName)
      fail(path + "." + key, "only " + std::string(kUpstreamHttpOptionsName) + " is supported");
    Obj o(it->second, path + "." + key);
    if (o.str("@type") != kUpstreamHttpOptions) fail(o.field("@type"), std::string("expected ") + kUpstreamHttpOptions);
    // Envoy requires one of the upstream_protocol_options; the host speaks HTTP/1.1 only.
    if (!o.has("explicit_http_config"))
      fail(o.field("explicit_http_config"), "required (the host supports explicit_http_config only)");
    Obj e(o.get("explicit_http_config"), o.field("explicit_http_config"));
    if (!e.has("http_protocol_options")) fail(e.field("http_protocol_options"), "required (the host speaks HTTP/1.1)");
    on = http1EnableTrailers(e.get("http_protocol_options"), e.field("http_protocol_options"));
    e.done();
    o.done();
  }
  return on;
}

Route route(const YAML::Node& n, const std::string& path) {
  Obj o(n, path);
  Route r;
  r.name = o.str("name", "");
  {
    Obj m(o.get("match"), o.field("match"));
    if (m.has("prefix"))
      r.prefix = m.str("prefix");
    else if (m.has("path"))
      r.path = m.str("path");
    else
      fail(m.path(), "one of prefix or path is required");
    m.done();
  }
  if (o.has("route")) {
    Obj ra(o.get("route"), o.field("route"));
    r.cluster = ra.str("cluster");
    if (ra.has("timeout"))
      r.timeout_ms = durationMs(ra.str("timeout"), ra.field("timeout"));
    else
      ra.get("timeout");
    ra.done();
  } else if (o.has("direct_response")) {
    Obj d(o.get("direct_response"), o.field("direct_response"));
    DirectResponse dr;
    dr.status = static_cast<uint32_t>(d.u64("status"));
    if (d.has("body")) {
      Obj b(d.get("body"), d.field("body"));
      dr.body = b.str("inline_string");
      b.done();
    }
    d.done();
    r.direct_response = dr;
  } else {
    fail(path, "one of route or direct_response is required");
  }
  r.per_filter = perFilter(o);
  o.done();
  return r;
}

HttpFilterConfig httpFilter(const YAML::Node& n, const std::string& path) {
  Obj o(n, path);
  HttpFilterConfig f;
  f.name = o.str("name");
  Obj tc(o.get("typed_config"), o.field("typed_config"));
  const auto type = tc.str("@type");
  if (type == kRouter) {
    f.is_router = true;
  } else if (type == kDynamicModuleFilter) {
    f.module = moduleRef(tc.get("dynamic_module_config"), tc.field("dynamic_module_config"));
    f.filter_name = tc.str("filter_name", "");
    f.filter_config = anyToBytes(tc.get("filter_config"), tc.field("filter_config"));
    if (tc.boolean("terminal_filter", false)) fail(tc.field("terminal_filter"), "terminal filters not supported");
  } else {
    fail(tc.field("@type"), "unsupported http filter type '" + type + "'");
  }
  tc.done();
  o.done();
  return f;
}

void hcm(const YAML::Node& n, const std::string& path, Listener& l) {
  Obj o(n, path);
  if (o.str("@type") != kHcm) fail(o.field("@type"), "only HttpConnectionManager is supported");
  l.stat_prefix = o.str("stat_prefix");
  l.enable_trailers = http1EnableTrailers(o.get("http_protocol_options"), o.field("http_protocol_options"));
  const auto codec = o.str("codec_type", "AUTO");
  if (codec != "AUTO" && codec != "HTTP1") fail(o.field("codec_type"), "only AUTO or HTTP1 (the host speaks HTTP/1.1)");
  Obj rc(o.get("route_config"), o.field("route_config"));
  rc.str("name", "");
  rc.list("virtual_hosts", [&](const YAML::Node& vn, const std::string& vp) {
    Obj v(vn, vp);
    VirtualHost vh;
    vh.name = v.str("name");
    v.list("domains", [&](const YAML::Node& d, const std::string&) { vh.domains.push_back(d.as<std::string>()); });
    v.list("routes", [&](const YAML::Node& rn, const std::string& rp) { vh.routes.push_back(route(rn, rp)); });
    vh.per_filter = perFilter(v);
    v.done();
    l.virtual_hosts.push_back(std::move(vh));
  });
  rc.done();
  o.list("http_filters",
         [&](const YAML::Node& fn, const std::string& fp) { l.http_filters.push_back(httpFilter(fn, fp)); });
  if (l.http_filters.empty() || !l.http_filters.back().is_router)
    fail(o.field("http_filters"), "the last http filter must be envoy.filters.http.router");
  for (size_t i = 0; i + 1 < l.http_filters.size(); i++)
    if (l.http_filters[i].is_router) fail(o.field("http_filters"), "the router must be the last filter");
  o.done();
}

Listener listener(const YAML::Node& n, const std::string& path) {
  Obj o(n, path);
  Listener l;
  l.name = o.str("name", "");
  l.address = socketAddress(o.get("address"), o.field("address"));
  l.buffer_limit = o.u64("per_connection_buffer_limit_bytes", 1024 * 1024);
  bool have = false;
  o.list("filter_chains", [&](const YAML::Node& cn, const std::string& cp) {
    Obj c(cn, cp);
    c.list("filters", [&](const YAML::Node& fn, const std::string& fp) {
      Obj f(fn, fp);
      f.str("name");
      if (have) fail(fp, "only one HttpConnectionManager per listener");
      hcm(f.get("typed_config"), f.field("typed_config"), l);
      have = true;
      f.done();
    });
    c.done();
  });
  if (!have) fail(o.field("filter_chains"), "an HttpConnectionManager filter is required");
  o.done();
  return l;
}

Cluster cluster(const YAML::Node& n, const std::string& path) {
  Obj o(n, path);
  Cluster c;
  c.name = o.str("name");
  const auto type = o.str("type", "STATIC");
  if (type != "STATIC") fail(o.field("type"), "only STATIC clusters");
  if (o.has("connect_timeout")) c.connect_timeout_ms = durationMs(o.str("connect_timeout"), o.field("connect_timeout"));
  const auto lb = o.str("lb_policy", "ROUND_ROBIN");
  if (lb != "ROUND_ROBIN") fail(o.field("lb_policy"), "only ROUND_ROBIN");
  Obj la(o.get("load_assignment"), o.field("load_assignment"));
  la.str("cluster_name", "");
  la.list("endpoints", [&](const YAML::Node& en, const std::string& ep) {
    Obj e(en, ep);
    e.list("lb_endpoints", [&](const YAML::Node& ln, const std::string& lp) {
      Obj lbe(ln, lp);
      Obj ed(lbe.get("endpoint"), lbe.field("endpoint"));
      c.endpoints.push_back(socketAddress(ed.get("address"), ed.field("address")));
      ed.done();
      lbe.done();
    });
    e.done();
  });
  la.done();
  if (c.endpoints.empty()) fail(o.field("load_assignment"), "at least one endpoint is required");
  c.enable_trailers = upstreamEnableTrailers(o);
  o.done();
  return c;
}

}  // namespace

Bootstrap loadBootstrap(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw std::runtime_error("config: cannot read " + path + ": " + e.what());
  }
  Bootstrap b;
  Obj top(root, "");
  Obj sr(top.get("static_resources"), "static_resources");
  sr.list("listeners", [&](const YAML::Node& n, const std::string& p) { b.listeners.push_back(listener(n, p)); });
  sr.list("clusters", [&](const YAML::Node& n, const std::string& p) { b.clusters.push_back(cluster(n, p)); });
  sr.done();
  if (top.has("stats_flush_interval")) {
    const double s = durationSeconds(top.str("stats_flush_interval"), "stats_flush_interval");
    if (!(s >= 0.001 && s < 300)) fail("stats_flush_interval", "must be inside [1ms, 300s), as Envoy requires");
    b.stats_flush_interval_ms = static_cast<uint64_t>(s * 1000);
  } else {
    top.get("stats_flush_interval");
  }
  if (top.has("admin")) {
    Obj a(top.get("admin"), "admin");
    b.admin = socketAddress(a.get("address"), "admin.address");
    a.done();
  }
  top.done();
  for (const auto& l : b.listeners)
    for (const auto& vh : l.virtual_hosts)
      for (const auto& r : vh.routes)
        if (!r.direct_response) {
          bool found = false;
          for (const auto& c : b.clusters) found |= c.name == r.cluster;
          if (!found)
            throw std::runtime_error("config: route " + r.name + " names unknown cluster '" + r.cluster + "'");
        }
  return b;
}

}  // namespace host
