// The hooks libnodevoy.so exports to Envoy. Each is a few lines: the work lives in FilterConfig
// (config lifetime), JsEnv (per worker) and StreamFilter (per stream). No C++ exception crosses the ABI.
#include <exception>
#include <string>

#include "envoy-filter/envoy_abi.h"
#include "envoy-filter/fault_injection.h"
#include "envoy-filter/filter_config.h"
#include "envoy-filter/log.h"
#include "envoy-filter/outcome.h"
#include "envoy-filter/stream_filter.h"

using nodevoy::BodyStatus;
using nodevoy::Direction;
using nodevoy::FilterConfig;
using nodevoy::HeadersStatus;
using nodevoy::PerRouteConfig;
using nodevoy::StreamFilter;

#define EXPORT extern "C" __attribute__((visibility("default")))

namespace {
StreamFilter* stream(envoy_dynamic_module_type_http_filter_module_ptr p) {
  return const_cast<StreamFilter*>(static_cast<const StreamFilter*>(p));
}

std::string_view view(envoy_dynamic_module_type_envoy_buffer b) {
  return b.ptr ? std::string_view(b.ptr, b.length) : std::string_view();
}

void logException(const char* hook) noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    nodevoy::logError(std::string("nodevoy: ") + hook + ": " + e.what());
  } catch (...) {
    nodevoy::logError(std::string("nodevoy: ") + hook + ": unknown exception");
  }
}

template <typename F>
auto guarded(const char* hook, F&& f, decltype(f()) fallback) noexcept -> decltype(f()) {
  try {
    nodevoy::maybeInjectFault(hook);
    return f();
  } catch (...) {
    logException(hook);
  }
  return fallback;
}

// A stream hook: an exception still ends the stream (failure reply, or reset once the response began);
// `stopped` is the hook's status for "stop here" (the stream was answered).
template <typename F>
auto guardedStream(const char* hook, envoy_dynamic_module_type_http_filter_module_ptr f, F&& fn,
                   decltype(fn()) stopped) noexcept -> decltype(fn()) {
  try {
    nodevoy::maybeInjectFault(hook);
    return fn();
  } catch (...) {
    logException(hook);
  }
  stream(f)->failNative();
  return stopped;
}
}  // namespace

EXPORT envoy_dynamic_module_type_abi_version_module_ptr envoy_dynamic_module_on_program_init(void) {
  return NODEVOY_ENVOY_ABI_VERSION;
}

EXPORT envoy_dynamic_module_type_http_filter_config_module_ptr envoy_dynamic_module_on_http_filter_config_new(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr envoy, envoy_dynamic_module_type_envoy_buffer name,
    envoy_dynamic_module_type_envoy_buffer config) {
  return guarded(
      "config_new",
      [&]() -> envoy_dynamic_module_type_http_filter_config_module_ptr {
        std::string error;
        auto c = FilterConfig::create(envoy, view(name), view(config), &error);
        if (!c) {
          nodevoy::logError("nodevoy: rejecting filter config: " + error);
          return nullptr;
        }
        return c.release();  // owned by Envoy's config until config_destroy
      },
      nullptr);
}

EXPORT void envoy_dynamic_module_on_http_filter_config_destroy(
    envoy_dynamic_module_type_http_filter_config_module_ptr p) {
  std::unique_ptr<const FilterConfig> owned(static_cast<const FilterConfig*>(p));
}

EXPORT envoy_dynamic_module_type_http_filter_per_route_config_module_ptr
envoy_dynamic_module_on_http_filter_per_route_config_new(envoy_dynamic_module_type_envoy_buffer name,
                                                         envoy_dynamic_module_type_envoy_buffer config) {
  return guarded(
      "per_route_config_new",
      [&]() -> envoy_dynamic_module_type_http_filter_per_route_config_module_ptr {
        std::string error;
        auto c = PerRouteConfig::create(view(name), view(config), &error);
        if (!c) {
          nodevoy::logError("nodevoy: rejecting per-route config: " + error);
          return nullptr;
        }
        return c.release();  // owned by Envoy's route config until per_route_config_destroy
      },
      nullptr);
}

EXPORT void envoy_dynamic_module_on_http_filter_per_route_config_destroy(
    envoy_dynamic_module_type_http_filter_per_route_config_module_ptr p) {
  std::unique_ptr<const PerRouteConfig> owned(static_cast<const PerRouteConfig*>(p));
}

EXPORT envoy_dynamic_module_type_http_filter_module_ptr
envoy_dynamic_module_on_http_filter_new(envoy_dynamic_module_type_http_filter_config_module_ptr config,
                                        envoy_dynamic_module_type_http_filter_envoy_ptr envoy) {
  return guarded(
      "filter_new",
      [&]() -> envoy_dynamic_module_type_http_filter_module_ptr {
        auto s = std::make_unique<StreamFilter>(*static_cast<const FilterConfig*>(config), envoy);
        return s.release();  // owned by Envoy's filter until on_http_filter_destroy
      },
      nullptr);
}

EXPORT envoy_dynamic_module_type_on_http_filter_request_headers_status
envoy_dynamic_module_on_http_filter_request_headers(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                    envoy_dynamic_module_type_http_filter_module_ptr f,
                                                    bool end_stream) {
  return static_cast<envoy_dynamic_module_type_on_http_filter_request_headers_status>(guardedStream(
      "request_headers", f, [&] { return stream(f)->onHeaders(Direction::Request, end_stream); },
      HeadersStatus::StopIteration));
}

EXPORT envoy_dynamic_module_type_on_http_filter_request_body_status
envoy_dynamic_module_on_http_filter_request_body(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                 envoy_dynamic_module_type_http_filter_module_ptr f, bool end_stream) {
  return static_cast<envoy_dynamic_module_type_on_http_filter_request_body_status>(guardedStream(
      "request_body", f, [&] { return stream(f)->onData(Direction::Request, end_stream); },
      BodyStatus::StopIterationNoBuffer));
}

EXPORT envoy_dynamic_module_type_on_http_filter_request_trailers_status
envoy_dynamic_module_on_http_filter_request_trailers(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                     envoy_dynamic_module_type_http_filter_module_ptr f) {
  return static_cast<envoy_dynamic_module_type_on_http_filter_request_trailers_status>(guardedStream(
      "request_trailers", f, [&] { return stream(f)->onTrailers(Direction::Request); }, HeadersStatus::StopIteration));
}

EXPORT envoy_dynamic_module_type_on_http_filter_response_headers_status
envoy_dynamic_module_on_http_filter_response_headers(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                     envoy_dynamic_module_type_http_filter_module_ptr f,
                                                     bool end_stream) {
  return static_cast<envoy_dynamic_module_type_on_http_filter_response_headers_status>(guardedStream(
      "response_headers", f, [&] { return stream(f)->onHeaders(Direction::Response, end_stream); },
      HeadersStatus::StopIteration));
}

EXPORT envoy_dynamic_module_type_on_http_filter_response_body_status
envoy_dynamic_module_on_http_filter_response_body(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                  envoy_dynamic_module_type_http_filter_module_ptr f, bool end_stream) {
  return static_cast<envoy_dynamic_module_type_on_http_filter_response_body_status>(guardedStream(
      "response_body", f, [&] { return stream(f)->onData(Direction::Response, end_stream); },
      BodyStatus::StopIterationNoBuffer));
}

EXPORT envoy_dynamic_module_type_on_http_filter_response_trailers_status
envoy_dynamic_module_on_http_filter_response_trailers(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                      envoy_dynamic_module_type_http_filter_module_ptr f) {
  return static_cast<envoy_dynamic_module_type_on_http_filter_response_trailers_status>(guardedStream(
      "response_trailers", f, [&] { return stream(f)->onTrailers(Direction::Response); },
      HeadersStatus::StopIteration));
}

EXPORT void envoy_dynamic_module_on_http_filter_stream_complete(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                                envoy_dynamic_module_type_http_filter_module_ptr f) {
  guarded(
      "stream_complete",
      [&] {
        stream(f)->onStreamComplete();
        return 0;
      },
      0);
}

EXPORT void envoy_dynamic_module_on_http_filter_destroy(envoy_dynamic_module_type_http_filter_module_ptr f) {
  guarded(
      "destroy",
      [&] {
        std::unique_ptr<StreamFilter> owned(stream(f));
        return 0;
      },
      0);
}

EXPORT void envoy_dynamic_module_on_http_filter_scheduled(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                          envoy_dynamic_module_type_http_filter_module_ptr f,
                                                          uint64_t event_id) {
  guardedStream(
      "scheduled", f,
      [&] {
        stream(f)->onScheduled(event_id);
        return 0;
      },
      0);
}

EXPORT void envoy_dynamic_module_on_http_filter_http_callout_done(
    envoy_dynamic_module_type_http_filter_envoy_ptr, envoy_dynamic_module_type_http_filter_module_ptr f, uint64_t id,
    envoy_dynamic_module_type_http_callout_result result, envoy_dynamic_module_type_envoy_http_header* headers,
    size_t header_count, envoy_dynamic_module_type_envoy_buffer* chunks, size_t chunk_count) {
  guardedStream(
      "http_callout_done", f,
      [&] {
        stream(f)->onCalloutDone(id, static_cast<uint32_t>(result), headers, header_count, chunks, chunk_count);
        return 0;
      },
      0);
}

EXPORT void envoy_dynamic_module_on_http_filter_http_stream_headers(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                                    envoy_dynamic_module_type_http_filter_module_ptr,
                                                                    uint64_t,
                                                                    envoy_dynamic_module_type_envoy_http_header*,
                                                                    size_t, bool) {}

EXPORT void envoy_dynamic_module_on_http_filter_http_stream_data(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                                 envoy_dynamic_module_type_http_filter_module_ptr,
                                                                 uint64_t,
                                                                 const envoy_dynamic_module_type_envoy_buffer*, size_t,
                                                                 bool) {}

EXPORT void envoy_dynamic_module_on_http_filter_http_stream_trailers(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                                     envoy_dynamic_module_type_http_filter_module_ptr,
                                                                     uint64_t,
                                                                     envoy_dynamic_module_type_envoy_http_header*,
                                                                     size_t) {}

EXPORT void envoy_dynamic_module_on_http_filter_http_stream_complete(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                                     envoy_dynamic_module_type_http_filter_module_ptr,
                                                                     uint64_t) {}

EXPORT void envoy_dynamic_module_on_http_filter_http_stream_reset(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                                  envoy_dynamic_module_type_http_filter_module_ptr,
                                                                  uint64_t,
                                                                  envoy_dynamic_module_type_http_stream_reset_reason) {}

EXPORT void envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    envoy_dynamic_module_type_http_filter_envoy_ptr, envoy_dynamic_module_type_http_filter_module_ptr) {}

EXPORT void envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    envoy_dynamic_module_type_http_filter_envoy_ptr, envoy_dynamic_module_type_http_filter_module_ptr) {}
