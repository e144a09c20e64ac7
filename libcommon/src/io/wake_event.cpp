#include "tcpkit/io/wake_event.hpp"

#include <poll.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <cstdint>
#include <string>

namespace tcpkit {

Result<WakeEvent> WakeEvent::open(const char* what) {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return fail_errno(std::string("eventfd (") + what + ")", errno);
  return WakeEvent(fd);
}

void WakeEvent::signal() const {
  const uint64_t one = 1;
  // EAGAIN (a counter at 2^64 - 1, never) only means a wake-up is pending already.
  [[maybe_unused]] const ssize_t n = ::write(fd_.get(), &one, sizeof one);
}

void WakeEvent::clear() const {
  uint64_t count = 0;
  [[maybe_unused]] const ssize_t n = ::read(fd_.get(), &count, sizeof count);  // EAGAIN when not signalled
}

bool cancel_requested(int cancel_fd) {
  if (cancel_fd < 0) return false;
  pollfd p{cancel_fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

}  // namespace tcpkit
