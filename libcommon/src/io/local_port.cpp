#include "tcpkit/io/local_port.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace tcpkit {

std::optional<uint16_t> local_port(int fd) {
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) < 0) return std::nullopt;
  if (bound.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  if (bound.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port);
  return std::nullopt;
}

Result<ReservedPort> reserve_port(const IpAddress& source, uint32_t scope_id, uint16_t port) {
  ReservedPort reserved;
  reserved.holder.reset(::socket(source.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!reserved.holder.valid()) return fail_errno("reserve a source port", errno);
  socklen_t length = 0;
  sockaddr_storage address = source.to_sockaddr(port, &length, scope_id);
  if (::bind(reserved.holder.get(), reinterpret_cast<sockaddr*>(&address), length) < 0) {
    // A source (-S) that is none of this host's addresses is the user's mistake, not the system's.
    if (errno == EADDRNOTAVAIL)
      return fail(ErrorCode::bad_input, "source " + source.to_string() + " is not an address of this host", errno);
    if (errno == EADDRINUSE && port)
      return fail(ErrorCode::system,
                  "source port " + std::to_string(port) + " is in use on this host (a connection, a listener, a "
                  "TIME_WAIT or another run holds it; its answers would not be ours): choose another",
                  errno);
    return fail_errno("reserve a source port on " + source.to_string(), errno);
  }
  const auto bound = local_port(reserved.holder.get());
  if (!bound) return fail_errno("reserve a source port on " + source.to_string(), errno);
  reserved.port = *bound;
  return reserved;
}

Result<std::vector<UniqueFd>> hold_port(const std::vector<PortSource>& sources, uint16_t port) {
  std::vector<UniqueFd> held;
  std::vector<IpAddress> seen;
  for (const PortSource& s : sources) {
    if (std::find(seen.begin(), seen.end(), s.address) != seen.end()) continue;
    seen.push_back(s.address);
    auto r = reserve_port(s.address, s.scope_id, port);
    if (r) held.push_back(std::move(r->holder));
    else if (r.error().code != ErrorCode::bad_input && r.error().err_no != EACCES) return tl::unexpected(r.error());
  }
  return held;
}

}  // namespace tcpkit
