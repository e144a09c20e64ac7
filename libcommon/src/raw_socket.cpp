#include "tcpkit/raw_socket.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace tcpkit {

int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Result<RawSender> RawSender::open(Family family, const std::string& interface) {
  if (family == Family::any) return fail(ErrorCode::bad_input, "raw sender needs an address family");
  // IPPROTO_RAW implies that we write the IP header ourselves, for IPv4 and IPv6 alike.
  const int fd = ::socket(family == Family::v4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) return fail_errno("raw socket", errno);
  RawSender sender(fd, family);
  if (!interface.empty() &&
      setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, interface.c_str(), socklen_t(interface.size())) < 0)
    return fail_errno("bind raw socket to interface '" + interface + "'", errno);
  const int buffer = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  return sender;
}

RawSender::RawSender(RawSender&& other) noexcept : fd_(other.fd_), family_(other.family_) { other.fd_ = -1; }

RawSender& RawSender::operator=(RawSender&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    family_ = other.family_;
    other.fd_ = -1;
  }
  return *this;
}

RawSender::~RawSender() {
  if (fd_ >= 0) ::close(fd_);
}

Result<int64_t> RawSender::send(const std::vector<uint8_t>& packet, const IpAddress& dst) {
  socklen_t length = 0;
  const sockaddr_storage to = dst.to_sockaddr(0, &length);
  const int64_t now = realtime_ns();
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (::sendto(fd_, packet.data(), packet.size(), 0, reinterpret_cast<const sockaddr*>(&to), length) >= 0) return now;
    if (errno != EINTR && errno != ENOBUFS) break;
  }
  return fail_errno("send to " + dst.to_string(), errno);
}

Result<size_t> RawSender::send_batch(const std::vector<std::vector<uint8_t>>& packets, const std::vector<IpAddress>& dsts) {
  const size_t n = std::min(packets.size(), dsts.size());
  std::vector<sockaddr_storage> addresses(n);
  std::vector<iovec> iov(n);
  std::vector<mmsghdr> messages(n);
  for (size_t i = 0; i < n; ++i) {
    socklen_t length = 0;
    addresses[i] = dsts[i].to_sockaddr(0, &length);
    iov[i] = iovec{const_cast<uint8_t*>(packets[i].data()), packets[i].size()};
    messages[i] = mmsghdr{};
    messages[i].msg_hdr.msg_name = &addresses[i];
    messages[i].msg_hdr.msg_namelen = length;
    messages[i].msg_hdr.msg_iov = &iov[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  size_t sent = 0;
  while (sent < n) {
    const int r = ::sendmmsg(fd_, messages.data() + sent, unsigned(n - sent), 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (sent > 0 || errno == ENOBUFS || errno == EAGAIN) return sent;
      return fail_errno("sendmmsg", errno);
    }
    sent += size_t(r);
  }
  return sent;
}

}  // namespace tcpkit
