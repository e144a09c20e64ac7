#include "tcpkit/probe/socket_lookup.hpp"

#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tcpkit/sockets/sock_diag.hpp"

namespace tcpkit {

Result<std::optional<SocketRecord>> lookup_tcp_socket(const FourTuple& tuple, int interface_index) {
  auto socket = open_sock_diag();
  if (!socket) return tl::unexpected(socket.error());
  const int fd = socket->get();
  timeval timeout{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const SockDiagLookup id{tuple.local, tuple.local_port, tuple.remote, tuple.remote_port, uint32_t(interface_index)};
  if (!send_to_kernel(fd, build_sock_diag_lookup(id, 1))) return fail_errno("sock_diag lookup", errno);

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
