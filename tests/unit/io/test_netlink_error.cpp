// netlink_errno from a whole NLMSG_ERROR message: the payload ends at nlmsg_len or at the bytes
// available, whichever comes first. (The payload form is tested with sock_diag's decoder.)
#include <catch2/catch.hpp>

#include <linux/netlink.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "tcpkit/io/netlink_error.hpp"

using namespace tcpkit;

namespace {

// An NLMSG_ERROR message with the given error field, at `shift` bytes into the buffer (a shift
// that is not a multiple of 4 leaves the header unaligned).
std::vector<uint8_t> error_message(int32_t error, size_t shift = 0) {
  nlmsgerr body{};
  body.error = error;
  nlmsghdr h{};
  h.nlmsg_len = NLMSG_LENGTH(sizeof body);
  h.nlmsg_type = NLMSG_ERROR;
  std::vector<uint8_t> bytes(shift + NLMSG_SPACE(sizeof body));
  std::memcpy(bytes.data() + shift, &h, sizeof h);
  std::memcpy(bytes.data() + shift + NLMSG_HDRLEN, &body, sizeof body);
  return bytes;
}

int errno_of(const std::vector<uint8_t>& bytes, size_t available, size_t shift = 0) {
  return netlink_errno(reinterpret_cast<const nlmsghdr*>(bytes.data() + shift), available);
}

void set_length(std::vector<uint8_t>& bytes, uint32_t length) {
  std::memcpy(bytes.data() + offsetof(nlmsghdr, nlmsg_len), &length, sizeof length);
}

}  // namespace

TEST_CASE("netlink_errno reads a whole NLMSG_ERROR message within its bounds") {
  const auto enoent = error_message(-ENOENT);
  CHECK(errno_of(enoent, enoent.size()) == ENOENT);
  CHECK(errno_of(error_message(0), enoent.size()) == 0);  // an acknowledgement
  CHECK(errno_of(error_message(5), enoent.size()) == EBADMSG);
  CHECK(errno_of(error_message(-4096), enoent.size()) == EBADMSG);

  // The error field is the first 4 bytes after the header: with fewer available, or a length
  // that stops short of it, the message is bad.
  CHECK(errno_of(enoent, NLMSG_HDRLEN + sizeof(int32_t)) == ENOENT);
  CHECK(errno_of(enoent, NLMSG_HDRLEN + sizeof(int32_t) - 1) == EBADMSG);
  CHECK(errno_of(enoent, sizeof(nlmsghdr) - 1) == EBADMSG);  // not even the header
  CHECK(errno_of(enoent, 0) == EBADMSG);
  auto cut = error_message(-ENOENT);
  set_length(cut, NLMSG_HDRLEN + sizeof(int32_t) - 1);
  CHECK(errno_of(cut, cut.size()) == EBADMSG);
  set_length(cut, NLMSG_HDRLEN + sizeof(int32_t));
  CHECK(errno_of(cut, cut.size()) == ENOENT);
  for (const uint32_t too_short : {0u, 4u, uint32_t(sizeof(nlmsghdr) - 1)}) {
    INFO(too_short);
    set_length(cut, too_short);
    CHECK(errno_of(cut, cut.size()) == EBADMSG);
  }
}

TEST_CASE("netlink_errno reads a message that is not aligned") {
  const auto shifted = error_message(-EPERM, 1);
  CHECK(errno_of(shifted, shifted.size() - 1, 1) == EPERM);
}
