#include "tcpkit/io/netlink_error.hpp"

#include <cerrno>
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

}  // namespace tcpkit
