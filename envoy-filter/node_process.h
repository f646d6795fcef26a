// Node's once-per-process start-up inside Envoy (process lifetime): the platform every environment
// runs on, started by the first environment and never torn down while Envoy runs.
#pragma once
#include <node.h>

#include <mutex>
#include <string>

namespace nodevoy {

// Starts Node's process-wide state on first use (any thread); null with *error set if it failed.
node::MultiIsolatePlatform* nodePlatform(std::string* error);
// Held while creating an environment: Node 18 mutates a process-global builtin map while it does.
std::mutex& environmentCreationMutex();
// The runtime's JS entry point: NODEVOY_RUNTIME, else dist/lib/bootstrap.js beside build/.
std::string bootstrapPath();

}  // namespace nodevoy
