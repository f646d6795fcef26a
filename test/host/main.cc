// nodevoy-host: a test and development tool that runs Envoy dynamic modules the way Envoy does, from an
// Envoy bootstrap file, over real HTTP/1.1. It is not Envoy.
#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "admin.h"
#include "config.h"
#include "crash_report.h"
#include "filter_config.h"
#include "log.h"
#include "route_table.h"
#include "worker.h"

namespace host {
extern std::thread::id g_main_thread;
extern uint32_t g_concurrency;

namespace {
event_base* g_main_base = nullptr;
event* g_main_posted = nullptr;
std::mutex g_main_mu;
std::vector<std::function<void()>> g_main_queue;

void onMainPosted(evutil_socket_t, short, void*) {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(g_main_mu);
    batch.swap(g_main_queue);
  }
  for (auto& fn : batch) fn();
}
}  // namespace

void postToMain(std::function<void()> fn) {
  {
    std::lock_guard lock(g_main_mu);
    g_main_queue.push_back(std::move(fn));
  }
  event_active(g_main_posted, 0, 0);
}

namespace {
int bindListener(const Listener& l) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(l.address.port);
  if (inet_pton(AF_INET, l.address.address.c_str(), &sin.sin_addr) != 1)
    throw std::runtime_error("listener " + l.name + ": address " + l.address.address + " is not an IPv4 address");
  if (bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 || listen(fd, 1024) != 0) {
    std::string err = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("listener " + l.name + ": cannot listen on " + l.address.address + ":" +
                             std::to_string(l.address.port) + ": " + err);
  }
  return fd;
}

void usage() {
  std::cerr << "usage: nodevoy-host -c <envoy.yaml> [--concurrency N] [--log-level L] [--check-lifetimes]\n"
               "A test/development host for Envoy dynamic modules. It is not Envoy.\n";
}

void onSignal(evutil_socket_t, short, void* arg) {
  event_base_loopbreak(static_cast<event_base*>(arg));
}

void onStatsFlush(evutil_socket_t, short, void*) {
  StatsStore::get().flush();
}
}  // namespace
}  // namespace host

int main(int argc, char** argv) {
  using namespace host;
  std::string config_path;
  uint32_t concurrency = std::max(1u, std::thread::hardware_concurrency());
  bool check =
      std::getenv("NODEVOY_HOST_CHECK_LIFETIMES") && std::string(std::getenv("NODEVOY_HOST_CHECK_LIFETIMES")) == "1";
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(1);
      }
      return argv[++i];
    };
    if (a == "-c" || a == "--config-path")
      config_path = value();
    else if (a == "--concurrency")
      concurrency = static_cast<uint32_t>(std::stoul(value()));
    else if (a == "-l" || a == "--log-level") {
      bool ok;
      auto lvl = parseLogLevel(value(), &ok);
      if (!ok) {
        std::cerr << "nodevoy-host: unknown log level\n";
        return 1;
      }
      g_log_level = static_cast<int>(lvl);
    } else if (a == "--check-lifetimes")
      check = true;
    else {
      usage();
      return 1;
    }
  }
  if (config_path.empty() || concurrency == 0) {
    usage();
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);  // as Envoy does
  installCrashReport();
  evthread_use_pthreads();
  g_main_thread = std::this_thread::get_id();
  g_concurrency = concurrency;

  Bootstrap bootstrap;
  std::vector<std::unique_ptr<ListenerRuntime>> listeners;
  try {
    bootstrap = loadBootstrap(config_path);
    for (const auto& l : bootstrap.listeners) {
      listeners.push_back(buildListener(l));
      listeners.back()->fd = bindListener(l);
    }
  } catch (const std::exception& e) {
    logLine(LogLevel::Critical, "main",
            std::string("error initializing configuration '") + config_path + "': " + e.what());
    listeners.clear();
    return 1;
  }

  g_main_base = event_base_new();
  g_main_posted = event_new(g_main_base, -1, 0, onMainPosted, nullptr);
  event* sigint = evsignal_new(g_main_base, SIGINT, onSignal, g_main_base);
  event* sigterm = evsignal_new(g_main_base, SIGTERM, onSignal, g_main_base);
  evsignal_add(sigint, nullptr);
  evsignal_add(sigterm, nullptr);
  // Envoy flushes its stats every stats_flush_interval; histogram samples are visible only after it.
  std::unique_ptr<event, decltype(&event_free)> stats_flush(
      event_new(g_main_base, -1, EV_PERSIST, onStatsFlush, nullptr), &event_free);
  const timeval flush_every = msToTimeval(bootstrap.stats_flush_interval_ms);
  event_add(stats_flush.get(), &flush_every);
  if (bootstrap.admin) {
    std::string err;
    if (!startAdmin(
            g_main_base, *bootstrap.admin, [] { event_base_loopbreak(g_main_base); }, &err)) {
      logLine(LogLevel::Critical, "main", err);
      return 1;
    }
  }

  HostOptions opts;
  opts.check_lifetimes = check;
  opts.bootstrap = &bootstrap;
  std::vector<ListenerRuntime*> raw;
  for (auto& l : listeners) raw.push_back(l.get());
  std::vector<std::unique_ptr<Worker>> workers;
  for (uint32_t i = 0; i < concurrency; i++) workers.push_back(std::make_unique<Worker>(i, opts, raw));
  for (auto& w : workers) w->start();
  for (auto& l : listeners)
    logLine(LogLevel::Info, "main",
            "listener '" + l->config->name + "' on " + l->config->address.address + ":" +
                std::to_string(l->config->address.port));
  logLine(
      LogLevel::Info, "main",
      "nodevoy-host ready with " + std::to_string(concurrency) + " worker(s)" + (check ? ", lifetime checks on" : ""));

  event_base_loop(g_main_base, EVLOOP_NO_EXIT_ON_EMPTY);

  logLine(LogLevel::Info, "main", "shutting down");
  for (auto& w : workers) w->stop();
  workers.clear();
  onMainPosted(-1, 0, nullptr);
  for (auto& l : listeners) ::close(l->fd);
  listeners.clear();  // config_destroy / per_route_config_destroy on the main thread
  stats_flush.reset();
  event_free(sigint);
  event_free(sigterm);
  event_free(g_main_posted);
  logLine(LogLevel::Info, "main", "exited cleanly");
  return 0;
}
