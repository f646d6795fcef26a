// A one-shot HTTP callout from a filter to a named cluster (Envoy's AsyncClient role): failures and
// timeouts come back as Success with Envoy's local-reply status (503 / 504), as Envoy's async client does.
#pragma once
#include <event2/event.h>

#include <string>

#include "http_message.h"
#include "upstream.h"
#include "worker.h"

namespace host {

class ActiveStream;
struct FilterSlot;

class Callout : public Deletable, private UpstreamCallbacks {
 public:
  Callout(ActiveStream& stream, FilterSlot* slot, uint64_t id, uint64_t timeout_ms);
  ~Callout() override;
  void start(ClusterPool* pool, HeaderMap headers, std::string body);
  uint64_t id() const { return id_; }
  FilterSlot* slot() const { return slot_; }
  const HeaderMap& headers() const { return headers_; }
  const Buffer& body() const { return body_; }

 private:
  void onUpstreamHeaders(HeaderMap&& h, bool end) override;
  void onUpstreamData(std::string_view d, bool end) override;
  void onUpstreamTrailers(HeaderMap&& t) override;
  void onUpstreamReset(const std::string& reason) override;
  static void onTimeout(evutil_socket_t, short, void* arg);
  void localReply(int status, const std::string& body);
  void finish();

  ActiveStream& stream_;
  FilterSlot* slot_;
  uint64_t id_;
  uint64_t timeout_ms_;
  UpstreamConnection* conn_ = nullptr;
  event* timer_ = nullptr;
  HeaderMap headers_;
  Buffer body_;
  bool done_ = false;
};

}  // namespace host
