// The host's log, in Envoy's line shape: [time][thread][level][logger] message.
#pragma once
#include <atomic>
#include <string_view>

namespace host {

enum class LogLevel { Trace = 0, Debug, Info, Warn, Error, Critical, Off };

extern std::atomic<int> g_log_level;
LogLevel parseLogLevel(std::string_view s, bool* ok);
inline bool logEnabled(LogLevel l) {
  return static_cast<int>(l) >= g_log_level.load(std::memory_order_relaxed);
}
void logLine(LogLevel level, std::string_view logger, std::string_view msg);
[[noreturn]] void fatal(std::string_view msg);  // abort with a message: a module broke the ABI's rules

}  // namespace host
