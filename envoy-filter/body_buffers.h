// Envoy's body buffers for one direction of a stream: the chunk of the running body hook ("received")
// and what earlier hooks buffered. Reads lend Envoy's bytes; JS sees them only through ChunkViews,
// which are detached before the hook returns (invariant 2), or as an explicit copy.
#pragma once
#include <node_api.h>
#include <v8.h>

#include <string>
#include <string_view>
#include <vector>

#include "envoy-filter/envoy_abi.h"

namespace nodevoy {

class BodyBuffers {
 public:
  // with_received: the stream is inside its body hook for this direction, so the received chunk exists.
  BodyBuffers(envoy_dynamic_module_type_http_filter_envoy_ptr envoy, int direction, bool with_received)
      : envoy_(envoy), direction_(direction), with_received_(with_received) {}

  std::vector<envoy_dynamic_module_type_envoy_buffer> chunks(bool received) const;
  size_t size() const;
  // A JS Uint8Array holding a copy of the whole body (buffered, then received).
  napi_value copyToJs(napi_env env, v8::Isolate* isolate) const;

  // Rewrites the whole body; false if Envoy refused (for example, no body buffer exists to write to).
  bool replace(std::string_view data) const;
  bool append(std::string_view data) const;
  bool prepend(std::string_view data) const;
  // Replaces just the chunks of one buffer (the ones a chunk handler saw) with `data`.
  bool replaceChunks(bool received, std::string_view data) const;
  // Keeps content-length truthful after a rewrite (only while the headers are still held).
  void fixContentLength() const;

 private:
  envoy_dynamic_module_type_http_body_type type(bool received) const {
    return static_cast<envoy_dynamic_module_type_http_body_type>(direction_ * 2 + (received ? 0 : 1));
  }
  bool drain(bool received) const;
  std::string copy() const;

  envoy_dynamic_module_type_http_filter_envoy_ptr envoy_;
  int direction_;
  bool with_received_;
};

// Zero-copy Uint8Arrays over Envoy's chunks, backed by V8 BackingStores with no-op deleters (cheaper
// than external arraybuffers, and freed at detach; docs/embedding.md). Detached on destruction.
// Lives inside a NapiScope.
class ChunkViews {
 public:
  ChunkViews(v8::Isolate* isolate, const std::vector<envoy_dynamic_module_type_envoy_buffer>& chunks);
  ~ChunkViews();
  ChunkViews(const ChunkViews&) = delete;
  ChunkViews& operator=(const ChunkViews&) = delete;
  napi_value array() const;

 private:
  std::vector<v8::Local<v8::ArrayBuffer>> buffers_;
  v8::Local<v8::Array> array_;
};

}  // namespace nodevoy
