#include "envoy-filter/body_buffers.h"

#include <cstring>

#include "envoy-filter/module_buffer.h"
#include "envoy-filter/v8_values.h"

namespace nodevoy {

std::vector<envoy_dynamic_module_type_envoy_buffer> BodyBuffers::chunks(bool received) const {
  std::vector<envoy_dynamic_module_type_envoy_buffer> out;
  if (received && !with_received_) return out;
  size_t n = envoy_dynamic_module_callback_http_get_body_chunks_size(envoy_, type(received));
  if (n == 0) return out;
  out.resize(n);
  if (!envoy_dynamic_module_callback_http_get_body_chunks(envoy_, type(received), out.data())) out.clear();
  return out;
}

size_t BodyBuffers::size() const {
  size_t n = envoy_dynamic_module_callback_http_get_body_size(envoy_, type(false));
  if (with_received_) n += envoy_dynamic_module_callback_http_get_body_size(envoy_, type(true));
  return n;
}

std::string BodyBuffers::copy() const {
  std::string out;
  out.reserve(size());
  for (bool received : {false, true})
    for (const auto& c : chunks(received)) out.append(c.ptr, c.length);
  return out;
}

napi_value BodyBuffers::copyToJs(napi_env, v8::Isolate* isolate) const {
  const size_t total = size();
  auto ab = v8::ArrayBuffer::New(isolate, total);
  char* dst = static_cast<char*>(ab->GetBackingStore()->Data());
  size_t at = 0;
  for (bool received : {false, true})
    for (const auto& c : chunks(received)) {
      if (at + c.length > total) break;
      std::memcpy(dst + at, c.ptr, c.length);
      at += c.length;
    }
  return toNapi(v8::Uint8Array::New(ab, 0, at));
}

bool BodyBuffers::drain(bool received) const {
  size_t n = envoy_dynamic_module_callback_http_get_body_size(envoy_, type(received));
  return n == 0 || envoy_dynamic_module_callback_http_drain_body(envoy_, type(received), n);
}

bool BodyBuffers::replace(std::string_view data) const {
  if (!drain(false) || (with_received_ && !drain(true))) return false;
  return data.empty() ||
         envoy_dynamic_module_callback_http_append_body(envoy_, type(with_received_), moduleBuffer(data));
}

bool BodyBuffers::append(std::string_view data) const {
  return data.empty() ||
         envoy_dynamic_module_callback_http_append_body(envoy_, type(with_received_), moduleBuffer(data));
}

bool BodyBuffers::prepend(std::string_view data) const {
  std::string whole(data);
  whole += copy();
  return replace(whole);
}

bool BodyBuffers::replaceChunks(bool received, std::string_view data) const {
  if (!drain(received)) return false;
  return data.empty() || envoy_dynamic_module_callback_http_append_body(envoy_, type(received), moduleBuffer(data));
}

void BodyBuffers::fixContentLength() const {
  auto kind = static_cast<envoy_dynamic_module_type_http_header_type>(direction_ * 2);
  envoy_dynamic_module_type_envoy_buffer v{nullptr, 0};
  size_t count = 0;
  if (!envoy_dynamic_module_callback_http_get_header(envoy_, kind, moduleBuffer("content-length"), &v, 0, &count) ||
      count == 0)
    return;
  const std::string n = std::to_string(size());
  envoy_dynamic_module_callback_http_set_header(envoy_, kind, moduleBuffer("content-length"), moduleBuffer(n));
}

ChunkViews::ChunkViews(v8::Isolate* isolate, const std::vector<envoy_dynamic_module_type_envoy_buffer>& chunks) {
  array_ = v8::Array::New(isolate, static_cast<int>(chunks.size()));
  auto context = isolate->GetCurrentContext();
  for (size_t i = 0; i < chunks.size(); i++) {
    auto store = v8::ArrayBuffer::NewBackingStore(
        const_cast<char*>(chunks[i].ptr), chunks[i].length, [](void*, size_t, void*) {},
        nullptr);  // Envoy owns the bytes
    auto ab = v8::ArrayBuffer::New(isolate, std::move(store));
    buffers_.push_back(ab);
    array_->Set(context, static_cast<uint32_t>(i), v8::Uint8Array::New(ab, 0, chunks[i].length)).Check();
  }
}

ChunkViews::~ChunkViews() {
  for (auto& ab : buffers_) ab->Detach();
}

napi_value ChunkViews::array() const {
  return toNapi(array_);
}

}  // namespace nodevoy
