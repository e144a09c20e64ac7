#pragma once
// The one sendmmsg loop of the senders (RawSender, FrameSender): the whole batch, or what the
// kernel took before its buffer filled (ENOBUFS, EAGAIN); EINTR is retried. after_each(ok, n)
// sees every call's outcome (RawSender counts its send-timestamp keys there).
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>

#include "tcpkit/util/error.hpp"

namespace tcpkit {

template <class AfterEach>
Result<size_t> send_messages(int fd, mmsghdr* messages, size_t n, const char* what, AfterEach after_each) {
  size_t sent = 0;
  while (sent < n) {
    const int r = ::sendmmsg(fd, messages + sent, unsigned(n - sent), 0);
    const int e = errno;
    after_each(r >= 0, r >= 0 ? size_t(r) : 0);
    if (r < 0) {
      if (e == EINTR) continue;
      if (sent > 0 || e == ENOBUFS || e == EAGAIN) return sent;
      return fail_errno(what, e);
    }
    sent += size_t(r);
  }
  return sent;
}

}  // namespace tcpkit
