#include "inline_headers.h"

#include <algorithm>
#include <array>

namespace host {

namespace {
// The names Envoy 1.39.3 and 1.40.0 list at startup ("HTTP header map info", info log level); sorted
// so lookups can binary-search. Request trailers have none.
constexpr std::array<std::string_view, 68> kRequest = {":authority",
                                                       ":method",
                                                       ":path",
                                                       ":protocol",
                                                       ":scheme",
                                                       "accept",
                                                       "accept-encoding",
                                                       "access-control-request-headers",
                                                       "access-control-request-method",
                                                       "access-control-request-private-network",
                                                       "authentication",
                                                       "authorization",
                                                       "cache-control",
                                                       "cdn-loop",
                                                       "connection",
                                                       "content-encoding",
                                                       "content-length",
                                                       "content-type",
                                                       "expect",
                                                       "grpc-accept-encoding",
                                                       "grpc-timeout",
                                                       "if-match",
                                                       "if-modified-since",
                                                       "if-none-match",
                                                       "if-range",
                                                       "if-unmodified-since",
                                                       "keep-alive",
                                                       "origin",
                                                       "pragma",
                                                       "proxy-connection",
                                                       "proxy-status",
                                                       "referer",
                                                       "te",
                                                       "transfer-encoding",
                                                       "upgrade",
                                                       "user-agent",
                                                       "via",
                                                       "x-client-trace-id",
                                                       "x-envoy-attempt-count",
                                                       "x-envoy-decorator-operation",
                                                       "x-envoy-downstream-service-cluster",
                                                       "x-envoy-downstream-service-node",
                                                       "x-envoy-expected-rq-timeout-ms",
                                                       "x-envoy-external-address",
                                                       "x-envoy-force-trace",
                                                       "x-envoy-hedge-on-per-try-timeout",
                                                       "x-envoy-internal",
                                                       "x-envoy-ip-tags",
                                                       "x-envoy-is-timeout-retry",
                                                       "x-envoy-max-retries",
                                                       "x-envoy-original-host",
                                                       "x-envoy-original-path",
                                                       "x-envoy-original-url",
                                                       "x-envoy-retriable-header-names",
                                                       "x-envoy-retriable-status-codes",
                                                       "x-envoy-retry-grpc-on",
                                                       "x-envoy-retry-on",
                                                       "x-envoy-upstream-alt-stat-name",
                                                       "x-envoy-upstream-rq-per-try-timeout-ms",
                                                       "x-envoy-upstream-rq-timeout-alt-response",
                                                       "x-envoy-upstream-rq-timeout-ms",
                                                       "x-envoy-upstream-stream-duration-ms",
                                                       "x-forwarded-client-cert",
                                                       "x-forwarded-for",
                                                       "x-forwarded-host",
                                                       "x-forwarded-port",
                                                       "x-forwarded-proto",
                                                       "x-request-id"};
constexpr std::array<std::string_view, 38> kResponse = {":status",
                                                        "access-control-allow-credentials",
                                                        "access-control-allow-headers",
                                                        "access-control-allow-methods",
                                                        "access-control-allow-origin",
                                                        "access-control-allow-private-network",
                                                        "access-control-expose-headers",
                                                        "access-control-max-age",
                                                        "age",
                                                        "cache-control",
                                                        "connection",
                                                        "content-encoding",
                                                        "content-length",
                                                        "content-type",
                                                        "date",
                                                        "etag",
                                                        "expires",
                                                        "grpc-message",
                                                        "grpc-status",
                                                        "keep-alive",
                                                        "last-modified",
                                                        "location",
                                                        "proxy-connection",
                                                        "proxy-status",
                                                        "server",
                                                        "transfer-encoding",
                                                        "upgrade",
                                                        "vary",
                                                        "via",
                                                        "x-envoy-attempt-count",
                                                        "x-envoy-decorator-operation",
                                                        "x-envoy-degraded",
                                                        "x-envoy-immediate-health-check-fail",
                                                        "x-envoy-ratelimited",
                                                        "x-envoy-upstream-canary",
                                                        "x-envoy-upstream-healthchecked-cluster",
                                                        "x-envoy-upstream-service-time",
                                                        "x-request-id"};
constexpr std::array<std::string_view, 2> kResponseTrailers = {"grpc-message", "grpc-status"};

template <size_t N>
bool in(const std::array<std::string_view, N>& list, std::string_view name) {
  return std::binary_search(list.begin(), list.end(), name);
}

// The lists must stay sorted for binary_search; checked at compile time.
static_assert(std::is_sorted(kRequest.begin(), kRequest.end()));
static_assert(std::is_sorted(kResponse.begin(), kResponse.end()));
}  // namespace

bool isInlineHeader(HeaderKind kind, std::string_view name) {
  switch (kind) {
    case HeaderKind::RequestHeaders:
      return in(kRequest, name);
    case HeaderKind::ResponseHeaders:
      return in(kResponse, name);
    case HeaderKind::ResponseTrailers:
      return in(kResponseTrailers, name);
    case HeaderKind::RequestTrailers:
    case HeaderKind::Plain:
      return false;
  }
  return false;
}

}  // namespace host
