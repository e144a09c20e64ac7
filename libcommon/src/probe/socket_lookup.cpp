#include "tcpkit/probe/socket_lookup.hpp"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tcpkit/sockets/sock_diag.hpp"
#include "io/unique_fd.hpp"

namespace tcpkit {

Result<std::optional<SocketRecord>> lookup_tcp_socket(const FourTuple& tuple, int interface_index) {
  UniqueFd socket(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  const int fd = socket.get();
  if (fd < 0) return fail_errno("sock_diag socket", errno);
  timeval timeout{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

  // An exact lookup (no NLM_F_DUMP): the kernel finds the one socket, TIME_WAIT included.
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST;
  message.header.nlmsg_seq = 1;
  message.request.sdiag_family = tuple.local.is_v4() ? AF_INET : AF_INET6;
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = ~0u;
  message.request.id.idiag_if = uint32_t(interface_index);
  message.request.id.idiag_sport = htons(tuple.local_port);
  message.request.id.idiag_dport = htons(tuple.remote_port);
  std::memcpy(message.request.id.idiag_src, tuple.local.data(), tuple.local.size());
  std::memcpy(message.request.id.idiag_dst, tuple.remote.data(), tuple.remote.size());
  message.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  message.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return fail_errno("sock_diag lookup", errno);

  alignas(nlmsghdr) uint8_t reply[8192];
  const ssize_t n = ::recv(fd, reply, sizeof reply, 0);
  if (n < 0) return fail_errno("sock_diag reply", errno);
  std::optional<SocketRecord> found;
  const auto decoded = decode_sock_diag(std::span<const uint8_t>(reply, size_t(n)), [&](SocketRecord& record) {
    found = std::move(record);
    return false;
  });
  if (decoded.error != 0 && decoded.error != ENOENT) return fail(ErrorCode::system, std::string("sock_diag lookup: ") + std::strerror(decoded.error), decoded.error);
  return found;
}

}  // namespace tcpkit
