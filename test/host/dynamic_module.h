// Loading a dynamic module the way Envoy's loader does (search path, dlopen flags, one load per path,
// on_program_init) and resolving the HTTP filter hooks when a filter config is created.
#pragma once
#include <memory>
#include <string>

#include "config.h"
#include "envoy-filter/envoy_abi.h"

namespace host {

class DynamicModule {
 public:
  DynamicModule(void* handle, std::string path) : handle_(handle), path_(std::move(path)) {}
  ~DynamicModule();
  DynamicModule(const DynamicModule&) = delete;
  DynamicModule& operator=(const DynamicModule&) = delete;
  void* symbol(const char* name) const;
  const std::string& path() const { return path_; }

 private:
  void* handle_;
  std::string path_;
};

// Throws std::runtime_error naming the module and the reason. Modules are cached by resolved path.
std::shared_ptr<DynamicModule> loadDynamicModule(const DynamicModuleRef& ref);

struct HttpFilterHooks {
  nodevoy_on_http_filter_config_new_fn config_new = nullptr;
  nodevoy_on_http_filter_config_destroy_fn config_destroy = nullptr;
  nodevoy_on_http_filter_new_fn filter_new = nullptr;
  nodevoy_on_http_filter_request_headers_fn request_headers = nullptr;
  nodevoy_on_http_filter_request_body_fn request_body = nullptr;
  nodevoy_on_http_filter_request_trailers_fn request_trailers = nullptr;
  nodevoy_on_http_filter_response_headers_fn response_headers = nullptr;
  nodevoy_on_http_filter_response_body_fn response_body = nullptr;
  nodevoy_on_http_filter_response_trailers_fn response_trailers = nullptr;
  nodevoy_on_http_filter_stream_complete_fn stream_complete = nullptr;
  nodevoy_on_http_filter_destroy_fn destroy = nullptr;
  nodevoy_on_http_filter_http_callout_done_fn http_callout_done = nullptr;
  nodevoy_on_http_filter_http_stream_headers_fn http_stream_headers = nullptr;
  nodevoy_on_http_filter_http_stream_data_fn http_stream_data = nullptr;
  nodevoy_on_http_filter_http_stream_trailers_fn http_stream_trailers = nullptr;
  nodevoy_on_http_filter_http_stream_complete_fn http_stream_complete = nullptr;
  nodevoy_on_http_filter_http_stream_reset_fn http_stream_reset = nullptr;
  nodevoy_on_http_filter_scheduled_fn scheduled = nullptr;
  nodevoy_on_http_filter_downstream_above_write_buffer_high_watermark_fn above_high_watermark = nullptr;
  nodevoy_on_http_filter_downstream_below_write_buffer_low_watermark_fn below_low_watermark = nullptr;
  // optional
  nodevoy_on_http_filter_local_reply_fn local_reply = nullptr;
  nodevoy_on_http_filter_config_scheduled_fn config_scheduled = nullptr;
};

// Throws naming the first missing mandatory hook.
HttpFilterHooks resolveHttpFilterHooks(const DynamicModule& m);

struct PerRouteHooks {
  nodevoy_on_http_filter_per_route_config_new_fn config_new = nullptr;
  nodevoy_on_http_filter_per_route_config_destroy_fn config_destroy = nullptr;
};
PerRouteHooks resolvePerRouteHooks(const DynamicModule& m);

}  // namespace host
