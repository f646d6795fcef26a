#include "crash_report.h"

#include <execinfo.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#define HOST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOST_UNDER_ASAN 1
#endif
#endif

namespace host {

#ifndef HOST_UNDER_ASAN
namespace {

constexpr std::array kFatal = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

// Only async-signal-safe calls from here on: write(2) of text built on the stack.
void put(const char* s) {
  ssize_t ignored = ::write(STDERR_FILENO, s, std::strlen(s));
  (void)ignored;
}

void putNumber(uintptr_t v, int base) {
  char buf[24];
  int i = sizeof buf - 1;
  buf[i] = '\0';
  do {
    buf[--i] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v && i > 0);
  put(buf + i);
}

void onFatal(int sig, siginfo_t* info, void*) {
  put("nodevoy-host: caught SIG");
  put(sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
  put(" (signal ");
  putNumber(static_cast<uintptr_t>(sig), 10);
  put(", address 0x");
  putNumber(reinterpret_cast<uintptr_t>(info->si_addr), 16);
  put(") on thread ");
  putNumber(static_cast<uintptr_t>(syscall(SYS_gettid)), 10);
  put("; backtrace:\n");
  std::array<void*, 64> frames;
  const int n = backtrace(frames.data(), static_cast<int>(frames.size()));
  backtrace_symbols_fd(frames.data(), n, STDERR_FILENO);
  // SA_RESETHAND put the default action back: die of the same signal, so the exit status tells it.
  raise(sig);
}

}  // namespace
#endif

void installCrashReport() {
#ifndef HOST_UNDER_ASAN
  // backtrace() loads libgcc on its first call, which may allocate: do it now, not in the handler.
  std::array<void*, 1> warm;
  backtrace(warm.data(), 1);
  // A stack overflow on the main thread leaves no stack for the handler: give it its own.
  static std::array<char, 64 * 1024> alt_stack;
  stack_t ss{};
  ss.ss_sp = alt_stack.data();
  ss.ss_size = alt_stack.size();
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_sigaction = onFatal;
  sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (int sig : kFatal) sigaction(sig, &sa, nullptr);
#endif
}

}  // namespace host
