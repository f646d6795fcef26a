// One downstream request/response and its filter chain: Envoy's FilterManager semantics for every
// status the ABI defines, the router as the decode sink and the downstream codec as the encode sink.
#pragma once
#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "envoy-filter/envoy_abi.h"
#include "http_message.h"
#include "route_table.h"
#include "upstream.h"
#include "worker.h"

namespace host {

class ActiveStream;
class Callout;

// What the module receives as filter_envoy_ptr.
struct FilterSlot {
  ActiveStream* stream = nullptr;
  FilterConfig* config = nullptr;
  const void* module_filter = nullptr;
  size_t index = 0;
  bool sent_local_reply = false;                            // its own encode hooks are skipped for that reply
  std::shared_ptr<char> alive = std::make_shared<char>(0);  // schedulers hold a weak_ptr
};

// Envoy-side scheduler object handed to the module (module-owned until scheduler_delete).
struct SchedulerHandle {
  Worker* worker;
  std::weak_ptr<char> alive;
  FilterSlot* slot;
};

enum class Dir { Decode, Encode };
enum class Ev { Headers, Data, Trailers };

// The downstream side the stream writes its response to.
class DownstreamSink {
 public:
  virtual ~DownstreamSink() = default;
  virtual void writeHeaders(const HeaderMap& h, bool end_stream) = 0;
  virtual void writeData(std::string_view d, bool end_stream) = 0;
  virtual void writeTrailers(const HeaderMap& t) = 0;
  virtual void streamEnded(bool reset) = 0;  // the connection decides keep-alive or close
  virtual std::string remoteAddress() const = 0;
  virtual std::string localAddress() const = 0;
};

using MetadataValue = std::variant<std::string, double, bool>;

class ActiveStream : public Deletable, private UpstreamCallbacks {
 public:
  ActiveStream(Worker& w, ListenerRuntime& l, DownstreamSink& sink, uint64_t id);
  ~ActiveStream() override;  // runs the destroy hooks (deferred, after the stream is gone)

  // Events from the downstream codec.
  void decodeHeaders(HeaderMap&& h, bool end_stream);
  void decodeData(std::string_view d, bool end_stream);
  void decodeTrailers(HeaderMap&& t);
  void resetStream(const std::string& reason);  // client went away, or a module reset it
  bool ended() const { return ended_; }

  // Callback support.
  HeaderMap* headerMap(envoy_dynamic_module_type_http_header_type t);
  Buffer* body(envoy_dynamic_module_type_http_body_type t);
  bool receivedIsBuffered(Dir d) const { return dir(d).received_is_buffered; }
  void continueIteration(Dir d, FilterSlot* slot);
  void sendLocalReply(uint32_t status, std::string body, HeaderMap extra, std::string details, FilterSlot* from);
  uint64_t bufferLimit() const { return buffer_limit_; }
  void setBufferLimit(uint64_t l) { buffer_limit_ = l; }
  void clearRouteCache() { route_cached_ = false; }
  // A filter asks for a specific upstream endpoint ("ip:port"); strict: fail rather than fall back.
  bool setUpstreamOverrideHost(std::string_view host, bool strict);
  const RouteEntry* route();
  const PerRouteConfig* perRouteConfig(FilterSlot* slot);
  std::optional<std::string> attributeString(envoy_dynamic_module_type_attribute_id id);
  std::optional<uint64_t> attributeInt(envoy_dynamic_module_type_attribute_id id);
  std::map<std::string, std::map<std::string, MetadataValue>>& dynamicMetadata() { return metadata_; }
  std::map<std::string, std::string>& filterState() { return filter_state_; }
  envoy_dynamic_module_type_http_callout_init_result startCallout(FilterSlot* slot, uint64_t* id, std::string cluster,
                                                                  HeaderMap headers, std::string body,
                                                                  uint64_t timeout_ms);
  void calloutDone(Callout* c, envoy_dynamic_module_type_http_callout_result result);
  void onScheduled(FilterSlot* slot, uint64_t event_id);
  Worker& worker() { return worker_; }

 private:
  struct Direction {
    int stopped_at = -1;  // position (in this direction's order) holding iteration, -1 none
    bool stop_all = false;
    bool watermark = false;  // a *Watermark status: flow control instead of a hard buffer limit
    bool headers_held = false;
    bool headers_end = false;  // the held headers ended the stream
    int dont_end_at = -1;      // position that returned ContinueAndDontEndStream
    bool trailers_held = false;
    bool end_received = false;   // the source sent end_stream
    bool end_passed = false;     // end_stream went past the stop point
    Buffer buffer;               // Envoy's buffered body for this direction
    Buffer* received = nullptr;  // the chunk of the body hook now running
    bool received_is_buffered = false;
  };
  Direction& dir(Dir d) { return d == Dir::Decode ? dec_ : enc_; }
  const Direction& dir(Dir d) const { return d == Dir::Decode ? dec_ : enc_; }
  FilterSlot& at(Dir d, size_t pos) { return *slots_[d == Dir::Decode ? pos : slots_.size() - 1 - pos]; }
  size_t position(Dir d, const FilterSlot* s) const {
    return d == Dir::Decode ? s->index : slots_.size() - 1 - s->index;
  }
  bool halted(Dir d) const { return ended_ || (d == Dir::Decode && decode_halted_); }

  void createFilters();
  void mutateRequestHeaders();
  void iterate(Dir d, Ev ev, size_t pos, Buffer chunk, bool end);
  int callHeaders(Dir d, FilterSlot& f, bool end);
  int callData(Dir d, FilterSlot& f, Buffer& chunk, bool end);
  int callTrailers(Dir d, FilterSlot& f);
  bool holdData(Dir d, Buffer&& chunk);  // false when the buffer limit was exceeded
  void resumeHeld(Dir d, size_t next_pos, bool stopped_filter_sees_data);
  void sink(Dir d, Ev ev, Buffer& chunk, bool end);
  void routerHeaders(bool end);
  void complete(bool reset);
  void cancelUpstream();

  // UpstreamCallbacks
  void onUpstreamHeaders(HeaderMap&& h, bool end) override;
  void onUpstreamData(std::string_view d, bool end) override;
  void onUpstreamTrailers(HeaderMap&& t) override;
  void onUpstreamReset(const std::string& reason) override;
  static void onUpstreamTimeout(evutil_socket_t, short, void* arg);

  Worker& worker_;
  ListenerRuntime& listener_;
  DownstreamSink* sink_;
  uint64_t id_;
  std::vector<std::unique_ptr<FilterSlot>> slots_;
  Direction dec_, enc_;
  HeaderMap request_headers_{HeaderKind::RequestHeaders}, response_headers_{HeaderKind::ResponseHeaders};
  std::optional<HeaderMap> request_trailers_, response_trailers_;
  bool decode_halted_ = false;     // a local reply or the router's end: no more decoding
  bool response_started_ = false;  // headers written downstream
  bool local_reply_active_ = false;
  uint64_t encode_epoch_ = 0;  // bumped by a local reply: encode iterations already running are stale
  bool ended_ = false;
  bool completed_hooks_run_ = false;
  uint64_t buffer_limit_;
  const RouteEntry* route_ = nullptr;
  bool route_cached_ = false;
  std::optional<SocketAddress> override_host_;
  bool override_strict_ = false;
  UpstreamConnection* upstream_ = nullptr;
  bool upstream_headers_seen_ = false;
  event* upstream_timer_ = nullptr;
  uint32_t response_code_ = 0;
  std::string response_code_details_;
  uint64_t start_us_;
  uint64_t upstream_start_us_ = 0;
  std::map<std::string, std::map<std::string, MetadataValue>> metadata_;
  std::map<std::string, std::string> filter_state_;
  std::map<uint64_t, std::unique_ptr<Callout>> callouts_;
  uint64_t next_callout_id_ = 1;
  std::string request_id_;
};

}  // namespace host
