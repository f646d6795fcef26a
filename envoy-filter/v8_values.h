// JS values made with V8's API directly where N-API's per-value calls cost more than the work: header
// strings and arrays of them, built on hot paths inside a call from JS (whose handle scope holds them).
#pragma once
#include <node_api.h>
#include <v8.h>

#include <cstddef>
#include <cstdint>

namespace nodevoy {

// napi_value is a v8::Local's slot pointer in Node's N-API implementation; this converts between the two.
inline napi_value toNapi(v8::Local<v8::Value> v) {
  return reinterpret_cast<napi_value>(*v);
}

// Header bytes as a JS string: ASCII (nearly every header) is copied as one-byte, skipping UTF-8 decoding.
inline v8::Local<v8::String> headerString(v8::Isolate* isolate, const char* p, size_t n) {
  bool ascii = true;
  for (size_t i = 0; i < n && ascii; i++) ascii = static_cast<unsigned char>(p[i]) < 0x80;
  const int len = static_cast<int>(n);
  v8::MaybeLocal<v8::String> s =
      ascii ? v8::String::NewFromOneByte(isolate, reinterpret_cast<const uint8_t*>(p), v8::NewStringType::kNormal, len)
            : v8::String::NewFromUtf8(isolate, p, v8::NewStringType::kNormal, len);
  return s.IsEmpty() ? v8::String::Empty(isolate) : s.ToLocalChecked();
}

}  // namespace nodevoy
