#include "tcpkit/io/netlink_error.hpp"

#include <linux/netlink.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace tcpkit {

namespace {
constexpr int32_t kMaxErrno = 4095;  // the kernel's MAX_ERRNO: -errno is never below -4095
}

int netlink_errno(const void* payload, size_t payload_len) {
  int32_t error = 0;
  if (payload_len < sizeof error) return EBADMSG;
  std::memcpy(&error, payload, sizeof error);
  if (error == 0) return 0;
  return error < 0 && error >= -kMaxErrno ? -error : EBADMSG;
}

int netlink_errno(const nlmsghdr* message, size_t available) {
  if (available < sizeof(nlmsghdr)) return EBADMSG;
  const auto* bytes = reinterpret_cast<const uint8_t*>(message);
  uint32_t length = 0;
  std::memcpy(&length, bytes + offsetof(nlmsghdr, nlmsg_len), sizeof length);
  const size_t message_len = std::min<size_t>(length, available);
  if (message_len < NLMSG_HDRLEN) return EBADMSG;
  return netlink_errno(bytes + NLMSG_HDRLEN, message_len - NLMSG_HDRLEN);
}

}  // namespace tcpkit
