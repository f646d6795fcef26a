// The admin listener: /stats (Envoy's text format), /stats/prometheus, /ready, /quitquitquit.
#pragma once
#include <event2/event.h>

#include <functional>
#include <string>

#include "config.h"

namespace host {

std::string statsText();
std::string statsPrometheus();
// Returns false (with a message) if the address cannot be bound.
bool startAdmin(event_base* base, const SocketAddress& addr, std::function<void()> quit, std::string* error);

}  // namespace host
