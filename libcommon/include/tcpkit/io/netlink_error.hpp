#pragma once
// The errno an NLMSG_ERROR message carries, read the same way by every netlink decoder (route,
// neighbours, sock_diag). The kernel sends -errno, or 0 for an acknowledgement; anything else
// (a positive value, one below -4095 such as INT_MIN, whose negation overflows) or a message
// too short to hold the field is a bad message, EBADMSG, rather than an errno.
#include <cstddef>
#include <cstdint>

struct nlmsghdr;

namespace tcpkit {

int netlink_errno(const void* payload, size_t payload_len);

// The same from the whole message: its payload is what follows the header, up to nlmsg_len or
// to the `available` bytes from `message` on, whichever ends first (a header that does not fit
// in `available` is a bad message too). `message` need not be aligned.
int netlink_errno(const nlmsghdr* message, size_t available);

}  // namespace tcpkit
