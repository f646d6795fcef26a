#include "stream.h"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "callout.h"
#include "cluster_pool.h"
#include "log.h"

namespace host {

namespace {
constexpr int kContinue = 0;
// headers statuses
constexpr int kStopIteration = 1, kContinueAndDontEndStream = 2, kStopAllBuffer = 3, kStopAllWatermark = 4;
// body statuses
constexpr int kStopAndBuffer = 1, kStopAndWatermark = 2, kStopNoBuffer = 3;

uint64_t nowUs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

std::string uuid4() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char out[37];
  std::snprintf(out, sizeof out, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return out;
}

[[noreturn]] void badStatus(const char* hook, int st) {
  fatal(std::string("module returned invalid status ") + std::to_string(st) + " from " + hook);
}
}  // namespace

ActiveStream::ActiveStream(Worker& w, ListenerRuntime& l, DownstreamSink& sink, uint64_t id)
    : worker_(w), listener_(l), sink_(&sink), id_(id), buffer_limit_(l.config->buffer_limit), start_us_(nowUs()) {}

ActiveStream::~ActiveStream() {
  callouts_.clear();
  cancelUpstream();
  for (auto& s : slots_) {
    worker_.liveSlots().erase(s.get());
    s->alive.reset();  // pending scheduler events become no-ops
  }
  for (auto& s : slots_) {
    if (!s->module_filter) continue;
    HookScope scope(&worker_);
    s->config->hooks().destroy(s->module_filter);
  }
}

const RouteEntry* ActiveStream::route() {
  if (!route_cached_) {
    route_ =
        listener_.match(request_headers_.get(":authority").value_or(""), request_headers_.get(":path").value_or("/"));
    route_cached_ = true;
  }
  return route_;
}

const PerRouteConfig* ActiveStream::perRouteConfig(FilterSlot* slot) {
  return ListenerRuntime::perRoute(route(), slot->config->name());
}

void ActiveStream::createFilters() {
  for (auto& cfg : listener_.filters) {
    if (auto* pr = ListenerRuntime::perRoute(route(), cfg->name()); pr && pr->disabled()) continue;
    auto slot = std::make_unique<FilterSlot>();
    slot->stream = this;
    slot->config = cfg.get();
    slot->index = slots_.size();
    worker_.liveSlots().insert(slot.get());
    auto* raw = slot.get();
    slots_.push_back(std::move(slot));
    HookScope scope(&worker_);
    raw->module_filter = cfg->hooks().filter_new(cfg->moduleConfig(), raw);
    if (!raw->module_filter) {
      resetStream("filter_new_returned_null");
      return;
    }
  }
}

// What Envoy's connection manager does to a request before the filters see it (HTTP/1.1, the
// defaults the host supports: use_remote_address false, no upgrade configs), as measured on 1.39/1.40.
void ActiveStream::mutateRequestHeaders() {
  auto& h = request_headers_;
  for (const char* k :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "x-envoy-internal"})
    h.remove(k);
  // TE survives (in its place) only as "trailers", the one value meaningful end to end.
  bool te_trailers = false;
  for (auto& [k, v] : h.entries())
    if (k == "te" && lower(v).find("trailers") != std::string::npos) {
      v = "trailers";
      te_trailers = true;
    }
  if (!te_trailers) h.remove("te");
  // A forwarded scheme the client states is kept and becomes :scheme; otherwise the connection's.
  if (auto xfp = h.get("x-forwarded-proto")) {
    const std::string p = lower(*xfp);
    if (p == "http" || p == "https") h.set(":scheme", p);
  } else {
    h.add("x-forwarded-proto", std::string(h.get(":scheme").value_or("http")));
  }
  if (!h.get("x-request-id")) h.add("x-request-id", uuid4());
}

void ActiveStream::decodeHeaders(HeaderMap&& h, bool end) {
  request_headers_ = std::move(h);
  mutateRequestHeaders();
  request_id_ = std::string(*request_headers_.get("x-request-id"));
  StatsStore::get().bump("http." + listener_.config->stat_prefix + ".downstream_rq_total");
  dec_.end_received = end;
  createFilters();
  if (ended_) return;
  iterate(Dir::Decode, Ev::Headers, 0, Buffer(), end);
}

void ActiveStream::decodeData(std::string_view d, bool end) {
  if (halted(Dir::Decode)) return;
  dec_.end_received = end;
  Buffer b;
  b.append(d);
  iterate(Dir::Decode, Ev::Data, 0, std::move(b), end);
}

void ActiveStream::decodeTrailers(HeaderMap&& t) {
  if (halted(Dir::Decode)) return;
  request_trailers_ = std::move(t);
  dec_.end_received = true;
  iterate(Dir::Decode, Ev::Trailers, 0, Buffer(), true);
}

int ActiveStream::callHeaders(Dir d, FilterSlot& f, bool end) {
  HookScope scope(&worker_);
  const auto& h = f.config->hooks();
  int st = d == Dir::Decode ? static_cast<int>(h.request_headers(&f, f.module_filter, end))
                            : static_cast<int>(h.response_headers(&f, f.module_filter, end));
  if (st < 0 || st > kStopAllWatermark) badStatus(d == Dir::Decode ? "request_headers" : "response_headers", st);
  if (st == kContinueAndDontEndStream && !end)
    fatal("ContinueAndDontEndStream returned for headers that did not end the stream");
  return st;
}

int ActiveStream::callData(Dir d, FilterSlot& f, Buffer& chunk, bool end) {
  auto& s = dir(d);
  s.received = &chunk;
  int st;
  {
    HookScope scope(&worker_);
    const auto& h = f.config->hooks();
    st = d == Dir::Decode ? static_cast<int>(h.request_body(&f, f.module_filter, end))
                          : static_cast<int>(h.response_body(&f, f.module_filter, end));
  }
  s.received = nullptr;
  if (st < 0 || st > kStopNoBuffer) badStatus(d == Dir::Decode ? "request_body" : "response_body", st);
  return st;
}

int ActiveStream::callTrailers(Dir d, FilterSlot& f) {
  HookScope scope(&worker_);
  const auto& h = f.config->hooks();
  int st = d == Dir::Decode ? static_cast<int>(h.request_trailers(&f, f.module_filter))
                            : static_cast<int>(h.response_trailers(&f, f.module_filter));
  if (st < 0 || st > kStopIteration) badStatus(d == Dir::Decode ? "request_trailers" : "response_trailers", st);
  return st;
}

bool ActiveStream::holdData(Dir d, Buffer&& chunk) {
  auto& s = dir(d);
  s.buffer.append(std::move(chunk));
  if (s.watermark || buffer_limit_ == 0 || s.buffer.size() <= buffer_limit_) return true;
  if (d == Dir::Decode) {
    StatsStore::get().bump("http." + listener_.config->stat_prefix + ".downstream_rq_too_large");
    sendLocalReply(413, "Payload Too Large", HeaderMap(), "request_payload_too_large", nullptr);
  } else if (!response_started_) {
    StatsStore::get().bump("http." + listener_.config->stat_prefix + ".rs_too_large");
    sendLocalReply(500, "Internal Server Error", HeaderMap(), "response_payload_too_large", nullptr);
  } else {
    resetStream("response_payload_too_large");
  }
  return false;
}

// Delivers one event to the filters from `pos` on, in this direction's order, then to the sink.
void ActiveStream::iterate(Dir d, Ev ev, size_t pos, Buffer chunk, bool end) {
  auto& s = dir(d);
  const uint64_t epoch = encode_epoch_;
  auto stale = [&] { return halted(d) || (d == Dir::Encode && epoch != encode_epoch_); };
  for (; pos < slots_.size(); pos++) {
    if (stale()) return;
    FilterSlot& f = at(d, pos);
    if (d == Dir::Encode && local_reply_active_ && f.sent_local_reply) continue;
    const bool at_stop = s.stopped_at == static_cast<int>(pos);
    if (at_stop && (s.stop_all || ev == Ev::Headers)) {  // held without calling the filter
      if (ev == Ev::Data)
        holdData(d, std::move(chunk));
      else if (ev == Ev::Trailers)
        s.trailers_held = true;
      return;
    }
    if (ev == Ev::Headers) {
      const int st = callHeaders(d, f, end);
      if (stale()) return;
      if (st == kContinue) continue;
      if (st == kContinueAndDontEndStream) {
        end = false;
        s.dont_end_at = static_cast<int>(pos);
        continue;
      }
      s.stopped_at = static_cast<int>(pos);
      s.stop_all = st == kStopAllBuffer || st == kStopAllWatermark;
      s.watermark = st == kStopAllWatermark;
      s.headers_held = true;
      s.headers_end = end;
      return;
    }
    if (ev == Ev::Data) {
      const int st = callData(d, f, chunk, end);
      if (stale()) return;
      if (st == kContinue) {
        if (at_stop) {  // this filter lets go: its held headers first, then its buffer with this chunk
          s.stopped_at = -1;
          if (s.headers_held) {
            s.headers_held = false;
            iterate(d, Ev::Headers, pos + 1, Buffer(), false);
            if (stale()) return;
          }
          if (!s.buffer.empty()) {
            Buffer all = std::move(s.buffer);
            s.buffer.clear();
            all.append(std::move(chunk));
            chunk = std::move(all);
          }
        }
        continue;
      }
      s.stopped_at = static_cast<int>(pos);
      s.stop_all = false;
      s.watermark = st == kStopAndWatermark;
      if (st == kStopNoBuffer) return;  // the filter took the bytes
      if (st == kStopAndBuffer || st == kStopAndWatermark) holdData(d, std::move(chunk));
      return;
    }
    // trailers
    const int st = callTrailers(d, f);
    if (stale()) return;
    if (st == kContinue) {
      if (at_stop) {
        s.stopped_at = -1;
        if (s.headers_held) {
          s.headers_held = false;
          iterate(d, Ev::Headers, pos + 1, Buffer(), false);
          if (stale()) return;
        }
        if (!s.buffer.empty()) {
          Buffer all = std::move(s.buffer);
          s.buffer.clear();
          s.received_is_buffered = true;
          iterate(d, Ev::Data, pos + 1, std::move(all), false);
          s.received_is_buffered = false;
          if (stale()) return;
        }
      }
      continue;
    }
    s.stopped_at = static_cast<int>(pos);
    s.stop_all = false;
    s.trailers_held = true;
    return;
  }
  if (!stale()) sink(d, ev, chunk, end);
}

void ActiveStream::continueIteration(Dir d, FilterSlot* slot) {
  if (halted(d)) return;
  auto& s = dir(d);
  const size_t pos = position(d, slot);
  if (s.stopped_at != static_cast<int>(pos)) {
    // A filter that returned ContinueAndDontEndStream ends the stream by continuing with its body.
    if (s.dont_end_at == static_cast<int>(pos) && !s.end_passed) {
      s.dont_end_at = -1;
      Buffer b = std::move(s.buffer);
      s.buffer.clear();
      iterate(d, Ev::Data, pos + 1, std::move(b), true);
    }
    return;
  }
  const bool was_all = s.stop_all;
  s.stopped_at = -1;
  s.stop_all = false;
  const size_t from = was_all ? pos : pos + 1;  // a StopAll filter has not seen the held data yet
  const bool trailers = s.trailers_held;
  bool end_carried = false;
  if (s.headers_held) {
    s.headers_held = false;
    end_carried = s.headers_end && s.buffer.empty() && !trailers;
    iterate(d, Ev::Headers, pos + 1, Buffer(), end_carried);
    if (halted(d)) return;
  }
  if (!s.buffer.empty() || (s.end_received && !trailers && !end_carried && !s.end_passed)) {
    Buffer b = std::move(s.buffer);
    s.buffer.clear();
    s.received_is_buffered = true;
    iterate(d, Ev::Data, from, std::move(b), s.end_received && !trailers);
    s.received_is_buffered = false;
    if (halted(d)) return;
  }
  if (trailers) {
    s.trailers_held = false;
    iterate(d, Ev::Trailers, from, Buffer(), true);
  }
}

void ActiveStream::sink(Dir d, Ev ev, Buffer& chunk, bool end) {
  auto& s = dir(d);
  if (end || ev == Ev::Trailers) s.end_passed = true;
  if (d == Dir::Decode) {
    if (ev == Ev::Headers) {
      routerHeaders(end);
    } else if (upstream_) {
      if (ev == Ev::Data)
        upstream_->sendData(chunk.toString(), end);
      else
        upstream_->sendTrailers(*request_trailers_);
    }
    // Envoy's route timeout spans from the end of the downstream request (as the router sees it) to
    // the end of the upstream response, so it starts only once end_stream reached the router.
    const RouteEntry* r = route();
    if ((end || ev == Ev::Trailers) && upstream_ && !upstream_timer_ && r && r->route->timeout_ms > 0) {
      upstream_timer_ = evtimer_new(worker_.base(), onUpstreamTimeout, this);
      const timeval tv = msToTimeval(r->route->timeout_ms);
      evtimer_add(upstream_timer_, &tv);
    }
    return;
  }
  if (ev == Ev::Headers) {
    response_started_ = true;
    response_code_ = static_cast<uint32_t>(statusCode(response_headers_));
    sink_->writeHeaders(response_headers_, end);
  } else if (ev == Ev::Data) {
    const auto& slices = chunk.slices();
    for (size_t i = 0; i < slices.size(); i++) sink_->writeData(slices[i], end && i + 1 == slices.size());
    if (slices.empty()) sink_->writeData(std::string_view(), end);
  } else {
    sink_->writeTrailers(response_trailers_ ? *response_trailers_ : HeaderMap());
  }
  if (end || ev == Ev::Trailers) complete(false);
}

void ActiveStream::routerHeaders(bool end) {
  const RouteEntry* r = route();
  if (!r) {
    sendLocalReply(404, "", HeaderMap(), "route_not_found", nullptr);
    return;
  }
  if (r->route->direct_response) {
    sendLocalReply(r->route->direct_response->status, r->route->direct_response->body, HeaderMap(), "direct_response",
                   nullptr);
    return;
  }
  // A module may have removed what the upstream codec needs: the router answers 503 naming it.
  for (const char* k : {":method", ":path"}) {
    if (!request_headers_.get(k)) {
      sendLocalReply(503, std::string("missing required header: ") + k, HeaderMap(),
                     std::string("filter_removed_required_request_headers{missing_required_header:_") + k + "}",
                     nullptr);
      return;
    }
  }
  // The router refuses to send a header value with a control character (other than tab) or DEL, which a
  // module may have written; the client gets a 503 naming the first such header.
  for (const auto& [k, v] : request_headers_.entries()) {
    const bool bad = std::any_of(v.begin(), v.end(), [](char ch) {
      const auto c = static_cast<unsigned char>(ch);
      return (c < 0x20 && c != '\t') || c == 0x7f;
    });
    if (bad) {
      sendLocalReply(503, "invalid header value for: " + k, HeaderMap(),
                     "filter_removed_required_request_headers{invalid_header_value_for:_" + k + "}", nullptr);
      return;
    }
  }
  // The router tells the upstream how long it will wait (the route timeout; none when disabled).
  if (r->route->timeout_ms > 0)
    request_headers_.set("x-envoy-expected-rq-timeout-ms", std::to_string(r->route->timeout_ms));
  const HeaderMap& h = request_headers_;
  upstream_headers_seen_ = false;
  upstream_start_us_ = nowUs();
  ClusterPool* pool = worker_.pool(r->route->cluster);
  const bool head = request_headers_.get(":method") == "HEAD";
  UpstreamConnection* conn = override_host_ ? pool->newStream(this, head, &*override_host_) : nullptr;
  if (!conn && override_host_ && override_strict_) {
    // As Envoy's load balancer: a strict override naming a host outside the cluster has no healthy upstream.
    sendLocalReply(503, "no healthy upstream", HeaderMap(), "no_healthy_upstream", nullptr);
    return;
  }
  upstream_ = conn ? conn : pool->newStream(this, head);
  upstream_->sendHeaders(h, end);
}

void ActiveStream::cancelUpstream() {
  if (upstream_timer_) {
    event_free(upstream_timer_);
    upstream_timer_ = nullptr;
  }
  if (upstream_) {
    auto* u = upstream_;
    upstream_ = nullptr;
    u->cancel();
  }
}

void ActiveStream::onUpstreamTimeout(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<ActiveStream*>(arg);
  self->cancelUpstream();
  if (!self->response_started_)
    self->sendLocalReply(504, "upstream request timeout", HeaderMap(), "response_timeout", nullptr);
  else
    self->resetStream("response_timeout");
}

void ActiveStream::onUpstreamHeaders(HeaderMap&& h, bool end) {
  if (end) cancelUpstream();
  upstream_headers_seen_ = true;
  response_headers_ = std::move(h);
  // The router adds how long the upstream took, in whole milliseconds, before the encoder filters run.
  response_headers_.set("x-envoy-upstream-service-time", std::to_string((nowUs() - upstream_start_us_) / 1000));
  // Envoy's router records the upstream status in StreamInfo before the encoder filters run.
  response_code_ = static_cast<uint32_t>(statusCode(response_headers_));
  enc_.end_received = end;
  iterate(Dir::Encode, Ev::Headers, 0, Buffer(), end);
}

void ActiveStream::onUpstreamData(std::string_view d, bool end) {
  if (end) cancelUpstream();
  enc_.end_received = end;
  Buffer b;
  b.append(d);
  iterate(Dir::Encode, Ev::Data, 0, std::move(b), end);
}

void ActiveStream::onUpstreamTrailers(HeaderMap&& t) {
  cancelUpstream();
  response_trailers_ = std::move(t);
  enc_.end_received = true;
  iterate(Dir::Encode, Ev::Trailers, 0, Buffer(), true);
}

void ActiveStream::onUpstreamReset(const std::string& reason) {
  upstream_ = nullptr;
  cancelUpstream();
  StatsStore::get().bump("cluster.upstream_rq_reset");
  if (!upstream_headers_seen_ && !response_started_) {
    sendLocalReply(
        503, "upstream connect error or disconnect/reset before headers. reset reason: " + resetReasonText(reason),
        HeaderMap(), "upstream_reset_before_response_started{" + reason + "}", nullptr);
  } else {
    resetStream("upstream_reset_after_response_started{" + reason + "}");
  }
}

void ActiveStream::sendLocalReply(uint32_t status, std::string body, HeaderMap extra, std::string details,
                                  FilterSlot* from) {
  if (ended_) return;
  if (response_started_) {  // too late for a reply: the client sees a reset, as on Envoy
    resetStream(details);
    return;
  }
  decode_halted_ = true;
  cancelUpstream();
  response_code_details_ = details;
  StatsStore::get().bump("http." + listener_.config->stat_prefix + ".downstream_rq_local_reply");
  bool reset = false;
  for (auto& s : slots_) {
    if (!s->config->hooks().local_reply) continue;
    HookScope scope(&worker_);
    auto st = s->config->hooks().local_reply(
        s.get(), s->module_filter, status,
        envoy_dynamic_module_type_envoy_buffer{worker_.lend(details), details.size()}, false);
    if (st == envoy_dynamic_module_type_on_http_filter_local_reply_status_ContinueAndResetStream) reset = true;
    if (ended_) return;
  }
  if (reset) {
    resetStream(details);
    return;
  }
  // Response headers already exist (from the upstream or an earlier local reply) but were not sent:
  // Envoy's FilterManager then bypasses the encoder filters and sends the reply straight to the codec
  // (sendDirectLocalReply), so that filters holding the response cannot stall it.
  const bool direct = upstream_headers_seen_ || local_reply_active_;
  if (from) from->sent_local_reply = true;
  local_reply_active_ = true;
  encode_epoch_++;
  enc_ = Direction();
  enc_.end_received = true;
  response_headers_ = HeaderMap(HeaderKind::ResponseHeaders);
  response_headers_.add(":status", std::to_string(status));
  if (!body.empty()) {
    response_headers_.add("content-length", std::to_string(body.size()));
    if (!extra.get("content-type"))
      response_headers_.add("content-type", "text/plain");  // as Envoy: only if the reply has none
  }
  for (const auto& [k, v] : extra.entries()) response_headers_.add(k, v);
  response_trailers_.reset();
  if (direct) {
    response_started_ = true;
    response_code_ = status;
    enc_.end_passed = true;
    sink_->writeHeaders(response_headers_, body.empty());
    if (!body.empty()) sink_->writeData(body, true);
    complete(false);
    return;
  }
  iterate(Dir::Encode, Ev::Headers, 0, Buffer(), body.empty());
  if (!body.empty() && !ended_) {
    Buffer b;
    b.append(body);
    iterate(Dir::Encode, Ev::Data, 0, std::move(b), true);
  }
}

void ActiveStream::resetStream(const std::string& reason) {
  if (ended_) return;
  if (response_code_details_.empty()) response_code_details_ = reason;
  StatsStore::get().bump("http." + listener_.config->stat_prefix + ".downstream_rq_reset");
  complete(true);
}

void ActiveStream::complete(bool reset) {
  if (ended_) return;
  ended_ = true;
  cancelUpstream();
  for (auto& s : slots_) {
    if (!s->module_filter) continue;
    HookScope scope(&worker_);
    s->config->hooks().stream_complete(s.get(), s->module_filter);
  }
  auto* sink = sink_;
  sink->streamEnded(reset);  // hands this stream to deferred deletion
}

HeaderMap* ActiveStream::headerMap(envoy_dynamic_module_type_http_header_type t) {
  switch (t) {
    case envoy_dynamic_module_type_http_header_type_RequestHeader:
      return &request_headers_;
    case envoy_dynamic_module_type_http_header_type_RequestTrailer:
      return request_trailers_ ? &*request_trailers_ : nullptr;
    case envoy_dynamic_module_type_http_header_type_ResponseHeader:
      return upstream_headers_seen_ || local_reply_active_ ? &response_headers_ : nullptr;
    case envoy_dynamic_module_type_http_header_type_ResponseTrailer:
      return response_trailers_ ? &*response_trailers_ : nullptr;
  }
  return nullptr;
}

Buffer* ActiveStream::body(envoy_dynamic_module_type_http_body_type t) {
  switch (t) {
    case envoy_dynamic_module_type_http_body_type_ReceivedRequestBody:
      return dec_.received;
    case envoy_dynamic_module_type_http_body_type_BufferedRequestBody:
      return &dec_.buffer;
    case envoy_dynamic_module_type_http_body_type_ReceivedResponseBody:
      return enc_.received;
    case envoy_dynamic_module_type_http_body_type_BufferedResponseBody:
      return &enc_.buffer;
  }
  return nullptr;
}

std::optional<std::string> ActiveStream::attributeString(envoy_dynamic_module_type_attribute_id id) {
  auto hdr = [&](const char* k) -> std::optional<std::string> {
    if (auto v = request_headers_.get(k)) return std::string(*v);
    return std::nullopt;
  };
  const std::string path(request_headers_.get(":path").value_or(""));
  switch (id) {
    case envoy_dynamic_module_type_attribute_id_RequestPath:
      return hdr(":path");
    case envoy_dynamic_module_type_attribute_id_RequestUrlPath:
      return path.substr(0, path.find('?'));
    case envoy_dynamic_module_type_attribute_id_RequestQuery:
      return path.find('?') == std::string::npos ? std::string() : path.substr(path.find('?') + 1);
    case envoy_dynamic_module_type_attribute_id_RequestHost:
      return hdr(":authority");
    case envoy_dynamic_module_type_attribute_id_RequestScheme:
      return hdr(":scheme");
    case envoy_dynamic_module_type_attribute_id_RequestMethod:
      return hdr(":method");
    case envoy_dynamic_module_type_attribute_id_RequestReferer:
      return hdr("referer");
    case envoy_dynamic_module_type_attribute_id_RequestUserAgent:
      return hdr("user-agent");
    case envoy_dynamic_module_type_attribute_id_RequestId:
      return request_id_;
    case envoy_dynamic_module_type_attribute_id_RequestProtocol:
      return std::string("HTTP/1.1");
    case envoy_dynamic_module_type_attribute_id_ResponseCodeDetails:
      return response_code_details_.empty() ? std::optional<std::string>() : response_code_details_;
    case envoy_dynamic_module_type_attribute_id_SourceAddress:
      return sink_->remoteAddress();
    case envoy_dynamic_module_type_attribute_id_DestinationAddress:
      return sink_->localAddress();
    case envoy_dynamic_module_type_attribute_id_XdsRouteName:  // "" for an unnamed route, as on Envoy
      return route() ? std::optional<std::string>(route()->route->name) : std::nullopt;
    case envoy_dynamic_module_type_attribute_id_XdsVirtualHostName:
      return route() ? std::optional<std::string>(route()->vhost->name) : std::nullopt;
    case envoy_dynamic_module_type_attribute_id_XdsClusterName:
      return route() && !route()->route->cluster.empty() ? std::optional<std::string>(route()->route->cluster)
                                                         : std::nullopt;
    default:
      return std::nullopt;
  }
}

std::optional<uint64_t> ActiveStream::attributeInt(envoy_dynamic_module_type_attribute_id id) {
  auto port = [](const std::string& a) -> std::optional<uint64_t> {
    auto p = a.rfind(':');
    if (p == std::string::npos) return std::nullopt;
    return std::stoull(a.substr(p + 1));
  };
  switch (id) {
    case envoy_dynamic_module_type_attribute_id_ResponseCode:
      return response_code_ ? std::optional<uint64_t>(response_code_) : std::nullopt;
    case envoy_dynamic_module_type_attribute_id_SourcePort:
      return port(sink_->remoteAddress());
    case envoy_dynamic_module_type_attribute_id_DestinationPort:
      return port(sink_->localAddress());
    case envoy_dynamic_module_type_attribute_id_ConnectionId:
      return id_;
    case envoy_dynamic_module_type_attribute_id_RequestDuration:
      return nowUs() - start_us_;
    default:
      return std::nullopt;
  }
}

void ActiveStream::onScheduled(FilterSlot* slot, uint64_t event_id) {
  HookScope scope(&worker_);
  slot->config->hooks().scheduled(slot, slot->module_filter, event_id);
}

envoy_dynamic_module_type_http_callout_init_result ActiveStream::startCallout(FilterSlot* slot, uint64_t* id,
                                                                              std::string cluster, HeaderMap headers,
                                                                              std::string body, uint64_t timeout_ms) {
  if (!headers.get(":method") || !headers.get(":path") || !headers.get(":authority"))  // "host" is ":authority"
    return envoy_dynamic_module_type_http_callout_init_result_MissingRequiredHeaders;
  bool found = false;
  for (const auto& c : worker_.options().bootstrap->clusters) found |= c.name == cluster;
  if (!found) return envoy_dynamic_module_type_http_callout_init_result_ClusterNotFound;
  // Envoy's async client marks its requests internal and forwards for its own (synthetic) address.
  headers.set("x-envoy-internal", "true");
  headers.add("x-forwarded-for", "192.0.2.2");
  if (timeout_ms > 0) headers.set("x-envoy-expected-rq-timeout-ms", std::to_string(timeout_ms));
  const uint64_t cid = next_callout_id_++;
  auto c = std::make_unique<Callout>(*this, slot, cid, timeout_ms);
  auto* raw = c.get();
  callouts_[cid] = std::move(c);
  *id = cid;
  raw->start(worker_.pool(cluster), std::move(headers), std::move(body));
  return envoy_dynamic_module_type_http_callout_init_result_Success;
}

void ActiveStream::calloutDone(Callout* c, envoy_dynamic_module_type_http_callout_result result) {
  auto it = callouts_.find(c->id());
  if (it == callouts_.end()) return;
  std::unique_ptr<Callout> owned = std::move(it->second);
  callouts_.erase(it);
  FilterSlot* slot = owned->slot();
  {
    HookScope scope(&worker_);
    std::vector<envoy_dynamic_module_type_envoy_http_header> hs;
    for (const auto& [k, v] : owned->headers().entries())
      hs.push_back({worker_.lend(k), k.size(), worker_.lend(v), v.size()});
    std::vector<envoy_dynamic_module_type_envoy_buffer> chunks;
    for (const auto& s : owned->body().slices()) chunks.push_back({worker_.lend(s), s.size()});
    slot->config->hooks().http_callout_done(slot, slot->module_filter, owned->id(), result,
                                            hs.empty() ? nullptr : hs.data(), hs.size(),
                                            chunks.empty() ? nullptr : chunks.data(), chunks.size());
  }
  worker_.deferDelete(std::move(owned));
}

bool ActiveStream::setUpstreamOverrideHost(std::string_view host, bool strict) {
  // Envoy accepts an IP literal with a port; anything else is refused.
  auto colon = host.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= host.size()) return false;
  std::string ip(host.substr(0, colon));
  if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  unsigned char buf[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, ip.c_str(), buf) != 1 && inet_pton(AF_INET6, ip.c_str(), buf) != 1) return false;
  int port = 0;
  for (char ch : host.substr(colon + 1)) {
    if (ch < '0' || ch > '9' || port > 65535) return false;
    port = port * 10 + (ch - '0');
  }
  if (port == 0 || port > 65535) return false;
  override_host_ = SocketAddress{ip, static_cast<uint16_t>(port)};
  override_strict_ = strict;
  return true;
}

}  // namespace host
