#include "log.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>

namespace host {

std::atomic<int> g_log_level{static_cast<int>(LogLevel::Info)};

namespace {
std::mutex g_log_mutex;
const char* kNames[] = {"trace", "debug", "info", "warning", "error", "critical", "off"};
}  // namespace

LogLevel parseLogLevel(std::string_view s, bool* ok) {
  *ok = true;
  for (int i = 0; i < 7; i++)
    if (s == kNames[i]) return static_cast<LogLevel>(i);
  if (s == "warn") return LogLevel::Warn;
  *ok = false;
  return LogLevel::Info;
}

void logLine(LogLevel level, std::string_view logger, std::string_view msg) {
  if (!logEnabled(level)) return;
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
  std::lock_guard lock(g_log_mutex);
  std::fprintf(stderr, "[%s.%03lld][%ld][%s][%.*s] %.*s\n", ts, static_cast<long long>(ms),
               static_cast<long>(syscall(SYS_gettid)), kNames[static_cast<int>(level)], static_cast<int>(logger.size()),
               logger.data(), static_cast<int>(msg.size()), msg.data());
  std::fflush(stderr);
}

void fatal(std::string_view msg) {
  {
    std::lock_guard lock(g_log_mutex);
    std::fprintf(stderr, "nodevoy-host: FATAL: %.*s\n", static_cast<int>(msg.size()), msg.data());
    std::fflush(stderr);
  }
  std::abort();
}

}  // namespace host
