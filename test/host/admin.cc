#include "admin.h"

#include <event2/buffer.h>
#include <event2/http.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <utility>
#include <vector>

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

// Envoy writes "{}" for a stat without labels.
std::string promLabels(const Metric& m, const std::vector<std::string>& values, const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < values.size(); i++) {
    if (!out.empty()) out += ",";
    out += m.label_names[i] + "=\"" + values[i] + "\"";
  }
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return "{" + out + "}";
}

// The quantiles /stats lists for a histogram, and Envoy's default Prometheus buckets (as printed).
constexpr std::pair<double, const char*> kQuantiles[] = {
    {0, "P0"},     {0.25, "P25"}, {0.5, "P50"},     {0.75, "P75"},    {0.9, "P90"},
    {0.95, "P95"}, {0.99, "P99"}, {0.995, "P99.5"}, {0.999, "P99.9"}, {1, "P100"},
};
constexpr std::pair<double, const char*> kBuckets[] = {
    {0.5, "0.5"},         {1, "1"},           {5, "5"},
    {10, "10"},           {25, "25"},         {50, "50"},
    {100, "100"},         {250, "250"},       {500, "500"},
    {1000, "1000"},       {2500, "2500"},     {5000, "5000"},
    {10000, "10000"},     {30000, "30000"},   {60000, "60000"},
    {300000, "300000"},   {600000, "600000"}, {1800000, "1800000"},
    {3600000, "3600000"},
};

// Envoy prints a Prometheus histogram's sum with 32 significant digits.
std::string promSum(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.32g", v);
  return buf;
}

std::vector<std::shared_ptr<Metric>> ofKind(const std::vector<std::shared_ptr<Metric>>& all, MetricKind k) {
  std::vector<std::shared_ptr<Metric>> out;
  for (const auto& m : all)
    if (m->kind == k) out.push_back(m);
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return promName(a->name) < promName(b->name); });
  return out;
}
}  // namespace

// Envoy's layout: counters and gauges in one name order, then histograms in name order; a histogram
// with nothing flushed yet reads "No recorded values", else each quantile as (interval,cumulative).
std::string statsText() {
  std::vector<std::pair<std::string, std::string>> scalars, histograms;
  for (auto& m : StatsStore::get().all()) {
    std::lock_guard lock(m->mu);
    if (m->kind == MetricKind::Histogram) {
      for (auto& [labels, h] : m->histograms) {
        std::string line;
        if (binCount(h.cumulative()) == 0) {
          line = " No recorded values";
        } else {
          for (const auto& [q, label] : kQuantiles)
            line += std::string(" ") + label + "(" + formatDouble(binQuantile(h.interval(), q)) + "," +
                    formatDouble(binQuantile(h.cumulative(), q)) + ")";
        }
        histograms.emplace_back(flatName(*m, labels), line);
      }
    } else {
      for (auto& [labels, v] : m->values)
        scalars.emplace_back(flatName(*m, labels), " " + std::to_string(static_cast<int64_t>(v)));
    }
  }
  std::sort(scalars.begin(), scalars.end());
  std::sort(histograms.begin(), histograms.end());
  std::ostringstream out;
  for (const auto* part : {&scalars, &histograms})
    for (const auto& [name, rest] : *part) out << name << ":" << rest << "\n";
  return out.str();
}

// Envoy's layout: counters, then gauges, then histograms, each in name order; no TYPE line for a stat
// with no label set yet. Histograms report what was flushed (cumulative).
std::string statsPrometheus() {
  std::ostringstream out;
  const auto all = StatsStore::get().all();
  for (MetricKind kind : {MetricKind::Counter, MetricKind::Gauge, MetricKind::Histogram}) {
    for (auto& m : ofKind(all, kind)) {
      std::lock_guard lock(m->mu);
      const auto n = promName(m->name);
      if (kind == MetricKind::Histogram) {
        if (m->histograms.empty()) continue;
        out << "# TYPE " << n << " histogram\n";
        for (auto& [labels, h] : m->histograms) {
          const auto& bins = h.cumulative();
          for (const auto& [le, text] : kBuckets)
            out << n << "_bucket" << promLabels(*m, labels, std::string("le=\"") + text + "\"") << " "
                << binCountAtMost(bins, le) << "\n";
          out << n << "_bucket" << promLabels(*m, labels, "le=\"+Inf\"") << " " << binCount(bins) << "\n";
          out << n << "_sum" << promLabels(*m, labels) << " " << promSum(binSum(bins)) << "\n";
          out << n << "_count" << promLabels(*m, labels) << " " << binCount(bins) << "\n";
        }
      } else {
        if (m->values.empty()) continue;
        out << "# TYPE " << n << (kind == MetricKind::Counter ? " counter\n" : " gauge\n");
        for (auto& [labels, v] : m->values)
          out << n << promLabels(*m, labels) << " " << static_cast<int64_t>(v) << "\n";
      }
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
  if (path == "/stats")
    reply(req, 200, statsText());
  else if (path == "/stats/prometheus")
    reply(req, 200, statsPrometheus(), "text/plain; version=0.0.4");
  else if (path == "/ready")
    reply(req, 200, "LIVE\n");
  else if (path == "/quitquitquit") {
    // Quit once the reply has been written, so the caller sees its 200 as Envoy's callers do.
    evhttp_request_set_on_complete_cb(
        req, [](evhttp_request*, void* arg) { static_cast<AdminCtx*>(arg)->quit(); }, ctx);
    reply(req, 200, "OK\n");
  } else
    reply(req, 404, "unknown admin path\n");
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
