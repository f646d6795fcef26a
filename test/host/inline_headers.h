// Envoy's "inline" headers: the names its header maps keep in fixed slots. A second value added to
// one of them is joined to the first with "," instead of becoming a second entry (a client's repeated
// Host becomes one ":authority: a,b"; a module's append to content-type gives "text/plain,x").
#pragma once
#include <string_view>

namespace host {

enum class HeaderKind { Plain, RequestHeaders, RequestTrailers, ResponseHeaders, ResponseTrailers };

// Whether `lower_name` is inline in maps of this kind (Envoy 1.39 and 1.40 have the same lists).
bool isInlineHeader(HeaderKind kind, std::string_view lower_name);

}  // namespace host
