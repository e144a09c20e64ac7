// The kernel's own struct tcp_info (linux/tcp.h): glibc's copy stops before tcpi_min_rtt, and
// the two cannot be included together, so this file alone uses the kernel's.
#include "tcpkit/io/tcp_min_rtt.hpp"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <optional>

namespace tcpkit {

std::optional<uint32_t> socket_min_rtt_us(int fd) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return std::nullopt;
  // An older kernel fills less: no minimum known.
  if (length < offsetof(tcp_info, tcpi_min_rtt) + sizeof info.tcpi_min_rtt || info.tcpi_min_rtt == 0) return std::nullopt;
  return info.tcpi_min_rtt;
}

}  // namespace tcpkit
