// What a local reply to a gRPC request must carry. Envoy's send_response hands sendLocalReply a gRPC
// status of 0 (measured on 1.39.3 and 1.40.0), so a reply without its own grpc-status reaches a gRPC
// client as OK; the module therefore names the status itself, mapped from the HTTP status the way
// gRPC maps HTTP errors (and Envoy does when it is left to choose).
#pragma once
#include <cstdint>
#include <string_view>

namespace nodevoy {

// content-type application/grpc, application/grpc+proto, application/grpc;charset=... (Envoy's test).
inline bool isGrpcContentType(std::string_view ct) {
  constexpr std::string_view kGrpc = "application/grpc";
  if (ct.size() < kGrpc.size()) return false;
  for (size_t i = 0; i < kGrpc.size(); i++)
    if ((ct[i] | 0x20) != kGrpc[i] && ct[i] != kGrpc[i]) return false;
  return ct.size() == kGrpc.size() || ct[kGrpc.size()] == '+' || ct[kGrpc.size()] == ';';
}

inline uint32_t grpcStatusForHttp(uint32_t http_status) {
  switch (http_status) {
    case 400:
      return 13;  // INTERNAL
    case 401:
      return 16;  // UNAUTHENTICATED
    case 403:
      return 7;  // PERMISSION_DENIED
    case 404:
      return 12;  // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;  // UNAVAILABLE
    default:
      return 2;  // UNKNOWN
  }
}

}  // namespace nodevoy
