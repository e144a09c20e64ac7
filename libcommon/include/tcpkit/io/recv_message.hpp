#pragma once
// The one recvmsg(2) setup: a data buffer, room for control messages (kernel timestamps, queued
// errors, packet auxdata) and, when wanted, the sender's address. The msghdr points into the
// object itself, so it is neither copied nor moved.
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <optional>

namespace tcpkit {

template <size_t ControlBytes>
struct RecvMessage {
  RecvMessage(void* data, size_t size, void* name = nullptr, socklen_t name_size = 0) : iov{data, size} {
    header.msg_name = name;
    header.msg_namelen = name_size;
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
  }
  RecvMessage(const RecvMessage&) = delete;
  RecvMessage& operator=(const RecvMessage&) = delete;

  alignas(cmsghdr) char control[ControlBytes];
  iovec iov;
  msghdr header{};
};

// The kernel's receive stamp (SO_TIMESTAMPNS) in a control message, in ns; nullopt for others.
inline std::optional<int64_t> timestampns_of(const cmsghdr& c) {
  if (c.cmsg_level != SOL_SOCKET || c.cmsg_type != SCM_TIMESTAMPNS || c.cmsg_len < CMSG_LEN(sizeof(timespec)))
    return std::nullopt;
  timespec ts;
  std::memcpy(&ts, CMSG_DATA(&c), sizeof ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace tcpkit
