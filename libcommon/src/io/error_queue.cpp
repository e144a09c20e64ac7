#include "tcpkit/io/error_queue.hpp"
#include "tcpkit/io/recv_message.hpp"

#include <linux/errqueue.h>
#include <netinet/in.h>

#include <cstring>

namespace tcpkit {

namespace {

// The sockaddr after the sock_extended_err (SO_EE_OFFENDER), read only as far as the message
// holds it: sockaddr_in or sockaddr_in6 by its family, nothing past `available` bytes.
std::optional<IpAddress> offender_in(const uint8_t* bytes, size_t available) {
  sa_family_t family = AF_UNSPEC;
  if (available < sizeof family) return std::nullopt;
  std::memcpy(&family, bytes, sizeof family);
  const size_t need = family == AF_INET ? sizeof(sockaddr_in) : family == AF_INET6 ? sizeof(sockaddr_in6) : 0;
  if (need == 0 || available < need) return std::nullopt;
  sockaddr_storage address{};
  std::memcpy(&address, bytes, need);
  return IpAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&address));
}

}  // namespace

std::optional<QueuedError> queued_error(const msghdr& message) {
  if (!message.msg_control) return std::nullopt;
  const auto* base = static_cast<const uint8_t*>(message.msg_control);
  const size_t total = message.msg_controllen;
  size_t offset = 0;
  while (offset + sizeof(cmsghdr) <= total) {
    cmsghdr header;
    std::memcpy(&header, base + offset, sizeof header);
    if (header.cmsg_len < CMSG_LEN(0) || header.cmsg_len > total - offset) return std::nullopt;
    const bool recverr = (header.cmsg_level == SOL_IP && header.cmsg_type == IP_RECVERR) ||
                         (header.cmsg_level == SOL_IPV6 && header.cmsg_type == IPV6_RECVERR);
    const size_t data_length = header.cmsg_len - CMSG_LEN(0);
    const uint8_t* data = base + offset + CMSG_LEN(0);
    if (recverr && data_length >= sizeof(sock_extended_err)) {
      sock_extended_err e;
      std::memcpy(&e, data, sizeof e);
      QueuedError out;
      out.err_no = e.ee_errno;
      out.origin = e.ee_origin;
      out.type = e.ee_type;
      out.code = e.ee_code;
      out.info = e.ee_info;
      out.data = e.ee_data;
      out.offender = offender_in(data + sizeof e, data_length - sizeof e);
      return out;
    }
    offset += CMSG_ALIGN(header.cmsg_len);
  }
  return std::nullopt;
}

namespace {
// The error queue's copy of the offending datagram is not read: a small buffer will do. The
// control buffer holds the sock_extended_err and the offender's address.
constexpr size_t kErrorDataBytes = 64;
constexpr size_t kErrorControlBytes = 512;
}  // namespace

std::optional<QueuedError> read_queued_icmp(int fd) {
  char data[kErrorDataBytes];
  sockaddr_storage from{};
  RecvMessage<kErrorControlBytes> message(data, sizeof data, &from, sizeof from);
  if (::recvmsg(fd, &message.header, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return std::nullopt;
  auto err = queued_error(message.header);
  if (!err || (err->origin != SO_EE_ORIGIN_ICMP && err->origin != SO_EE_ORIGIN_ICMP6)) return std::nullopt;
  return err;
}

}  // namespace tcpkit
