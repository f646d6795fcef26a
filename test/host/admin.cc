#include "admin.h"

#include <event2/buffer.h>
#include <event2/http.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "filter_config.h"

namespace host {

namespace {
std::string flatName(const Metric& m, const std::vector<std::string>& values) {
  std::string n = m.name;
  for (size_t i = 0; i < values.size(); i++) n += "." + m.label_names[i] + "." + values[i];
  return n;
}

std::string promName(const std::string& n) {
  std::string out = "envoy_";
  for (char c : n) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

std::string promLabels(const Metric& m, const std::vector<std::string>& values, const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < values.size(); i++) {
    if (!out.empty()) out += ",";
    out += m.label_names[i] + "=\"" + values[i] + "\"";
  }
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

double quantile(std::vector<uint64_t> s, double q) {
  if (s.empty()) return NAN;
  std::sort(s.begin(), s.end());
  return static_cast<double>(s[std::min(s.size() - 1, static_cast<size_t>(q * static_cast<double>(s.size())))]);
}
}  // namespace

std::string statsText() {
  std::ostringstream out;
  for (auto& m : StatsStore::get().all()) {
    std::lock_guard lock(m->mu);
    if (m->kind == MetricKind::Histogram) {
      for (auto& [labels, samples] : m->samples) {
        out << flatName(*m, labels) << ":";
        for (double q : {0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1.0})
          out << " P" << q * 100 << "(nan," << quantile(samples, q) << ")";
        out << "\n";
      }
    } else {
      for (auto& [labels, v] : m->values)
        out << flatName(*m, labels) << ": " << (m->kind == MetricKind::Gauge ? static_cast<int64_t>(v) : static_cast<int64_t>(v))
            << "\n";
    }
  }
  return out.str();
}

std::string statsPrometheus() {
  std::ostringstream out;
  for (auto& m : StatsStore::get().all()) {
    std::lock_guard lock(m->mu);
    const auto n = promName(m->name);
    if (m->kind == MetricKind::Histogram) {
      out << "# TYPE " << n << " histogram\n";
      for (auto& [labels, samples] : m->samples) {
        uint64_t sum = 0;
        for (auto v : samples) sum += v;
        for (double b : {1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0}) {
          size_t c = static_cast<size_t>(std::count_if(samples.begin(), samples.end(), [&](uint64_t v) { return static_cast<double>(v) <= b; }));
          std::ostringstream le;
          le << "le=\"" << b << "\"";
          out << n << "_bucket" << promLabels(*m, labels, le.str()) << " " << c << "\n";
        }
        out << n << "_bucket" << promLabels(*m, labels, "le=\"+Inf\"") << " " << samples.size() << "\n";
        out << n << "_sum" << promLabels(*m, labels) << " " << sum << "\n";
        out << n << "_count" << promLabels(*m, labels) << " " << samples.size() << "\n";
      }
    } else {
      out << "# TYPE " << n << (m->kind == MetricKind::Counter ? " counter\n" : " gauge\n");
      for (auto& [labels, v] : m->values) out << n << promLabels(*m, labels) << " " << static_cast<int64_t>(v) << "\n";
    }
  }
  return out.str();
}

namespace {
struct AdminCtx {
  std::function<void()> quit;
};

void reply(evhttp_request* req, int code, const std::string& body, const char* type = "text/plain") {
  evbuffer* b = evbuffer_new();
  evbuffer_add(b, body.data(), body.size());
  evhttp_add_header(evhttp_request_get_output_headers(req), "content-type", type);
  evhttp_send_reply(req, code, code == 200 ? "OK" : "Not Found", b);
  evbuffer_free(b);
}

void onRequest(evhttp_request* req, void* arg) {
  auto* ctx = static_cast<AdminCtx*>(arg);
  std::string uri = evhttp_request_get_uri(req);
  std::string path = uri.substr(0, uri.find('?'));
  if (path == "/stats") reply(req, 200, statsText());
  else if (path == "/stats/prometheus") reply(req, 200, statsPrometheus(), "text/plain; version=0.0.4");
  else if (path == "/ready") reply(req, 200, "LIVE\n");
  else if (path == "/quitquitquit") {
    // Quit once the reply has been written, so the caller sees its 200 as Envoy's callers do.
    evhttp_request_set_on_complete_cb(req, [](evhttp_request*, void* arg) { static_cast<AdminCtx*>(arg)->quit(); }, ctx);
    reply(req, 200, "OK\n");
  } else reply(req, 404, "unknown admin path\n");
}
}  // namespace

bool startAdmin(event_base* base, const SocketAddress& addr, std::function<void()> quit, std::string* error) {
  evhttp* http = evhttp_new(base);
  static AdminCtx ctx;  // lives as long as the process's admin server
  ctx.quit = std::move(quit);
  evhttp_set_gencb(http, onRequest, &ctx);
  if (evhttp_bind_socket(http, addr.address.c_str(), addr.port) != 0) {
    *error = "cannot bind admin address " + addr.address + ":" + std::to_string(addr.port);
    evhttp_free(http);
    return false;
  }
  return true;
}

}  // namespace host
