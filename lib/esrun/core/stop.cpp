#include "esrun/core/stop.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace esrun {
namespace {

std::atomic<int> requested{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free flag");

void say(const char* text) {
  // write(2) is async-signal-safe; the result is deliberately ignored (nothing to do on failure).
  if (::write(STDERR_FILENO, text, std::strlen(text)) < 0) return;
}

extern "C" void on_stop_signal(int signal) {
  const int saved_errno = errno;
  int expected = 0;
  if (requested.compare_exchange_strong(expected, signal)) {
    say("\nesrun: stop requested; finishing the current step and writing a checkpoint (signal again to quit "
        "at once)\n");
    errno = saved_errno;
    return;
  }
  say("\nesrun: second signal, exiting without a checkpoint\n");
  ::_exit(128 + signal);
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (const int signal : {SIGINT, SIGTERM, SIGUSR1}) sigaction(signal, &action, nullptr);
}

int stop_signal() { return requested.load(); }

const char* signal_name(int signal) {
  switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    default: return "a signal";
  }
}

}  // namespace esrun
