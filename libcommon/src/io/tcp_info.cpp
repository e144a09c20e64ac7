#include "tcpkit/io/tcp_info.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

namespace tcpkit {

std::optional<tcp_info> socket_tcp_info(int fd) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return std::nullopt;
  return info;
}

}  // namespace tcpkit
