// A fatal signal (a crash, or an abort from a lifetime check) is reported on stderr with a backtrace
// before the process dies of it, as Envoy does: a test that sees the host die says where.
#pragma once

namespace host {

// Installs the handlers. A no-op under AddressSanitizer, whose own report says more.
void installCrashReport();

}  // namespace host
