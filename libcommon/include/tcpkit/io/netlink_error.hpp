#pragma once
// The errno an NLMSG_ERROR message carries, read the same way by every netlink decoder (route,
// neighbours, sock_diag). The kernel sends -errno, or 0 for an acknowledgement; anything else
// (a positive value, one below -4095 such as INT_MIN, whose negation overflows) or a message
// too short to hold the field is a bad message, EBADMSG, rather than an errno.
#include <cstddef>
#include <cstdint>

namespace tcpkit {

int netlink_errno(const void* payload, size_t payload_len);

}  // namespace tcpkit
