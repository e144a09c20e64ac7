#pragma once
// Reading what the kernel queues on a socket's error queue (MSG_ERRQUEUE): the
// sock_extended_err of IP_RECVERR / IPV6_RECVERR, and the address after it. Every control
// message is checked against its cmsg_len and the control buffer before a byte is read.
#include <sys/socket.h>

#include <cstdint>
#include <optional>

#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

struct QueuedError {
  uint32_t err_no = 0;  // ee_errno
  uint8_t origin = 0;   // SO_EE_ORIGIN_*
  uint8_t type = 0, code = 0;
  uint32_t info = 0, data = 0;
  std::optional<IpAddress> offender;  // who sent an ICMP error, when the message holds a whole address
};

// The first IP_RECVERR / IPV6_RECVERR in message (as recvmsg filled it), if one is whole.
std::optional<QueuedError> queued_error(const msghdr& message);

// The ICMP error the kernel queued on socket fd (IP_RECVERR / IPV6_RECVERR set), if any: read
// without blocking; errors of other origins (local) are not ICMP and give nullopt.
std::optional<QueuedError> read_queued_icmp(int fd);

}  // namespace tcpkit
