#include "envoy-filter/node_process.h"

#include <dlfcn.h>
#include <signal.h>

#include <cstdlib>
#include <memory>
#include <vector>

namespace nodevoy {

namespace {

std::once_flag g_process_once;
std::unique_ptr<node::InitializationResult> g_process;
std::string g_process_error;

std::string soDirectory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&soDirectory), &info) == 0 || !info.dli_fname) return ".";
  std::string p = info.dli_fname;
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

void initProcess() {
  // Native addons resolve napi_* in the global scope; Envoy loads us RTLD_LOCAL, so promote libnode.
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(static_cast<int (*)(node::Environment*)>(&node::Stop)), &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);  // never closed: Node stays for the process
  // Node does not ignore SIGPIPE without its default signal handling; a write to a closed socket would kill Envoy.
  struct sigaction sa {};
  if (sigaction(SIGPIPE, nullptr, &sa) == 0 && sa.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
  using namespace node::ProcessInitializationFlags;
  // The V8 heap limit applies to each environment's isolate (NODEVOY_MAX_HEAP_MB, default 512).
  const char* heap = std::getenv("NODEVOY_MAX_HEAP_MB");
  const std::string heap_flag = "--max-old-space-size=" + std::string(heap && *heap ? heap : "512");
  // --no-wasm-async-compilation: an asynchronous WebAssembly compile (undici's llhttp, which the runtime
  // warms on every worker, or a filter's own) runs on V8's platform threads and posts its next step to the
  // isolate's task runner; when the environment goes first (a worker made just before Envoy shuts down,
  // a retired one), that post lands on the torn-down runner and crashes Envoy (SIGSEGV in uv_async_send
  // from AsyncCompileJob::StartForegroundTask, seen on the test host). Compiling on the calling thread
  // leaves nothing behind; WebAssembly.compile() still returns a promise.
  g_process = node::InitializeOncePerProcess(
      {"nodevoy", "--no-force-async-hooks-checks", "--no-wasm-async-compilation", heap_flag},
      {kNoStdioInitialization, kNoDefaultSignalHandling, kNoAdjustResourceLimits, kNoUseLargePages,
       kNoPrintHelpOrVersionOutput, kDisableNodeOptionsEnv});
  if (!g_process || g_process->early_return() || !g_process->errors().empty()) {
    g_process_error = "Node.js process initialisation failed";
    if (g_process)
      for (const auto& e : g_process->errors()) g_process_error += ": " + e;
  }
}

}  // namespace

node::MultiIsolatePlatform* nodePlatform(std::string* error) {
  std::call_once(g_process_once, initProcess);
  if (!g_process_error.empty()) {
    *error = g_process_error;
    return nullptr;
  }
  return g_process->platform();
}

std::mutex& environmentCreationMutex() {
  static std::mutex mu;
  return mu;
}

std::string bootstrapPath() {
  if (const char* p = std::getenv("NODEVOY_RUNTIME"); p && *p) return p;
  return soDirectory() + "/../dist/lib/bootstrap.js";
}

}  // namespace nodevoy
