#include "tcpkit/io/raw_socket.hpp"

#include "tcpkit/io/error_queue.hpp"
#include "tcpkit/io/recv_message.hpp"
#include "tcpkit/io/route.hpp"
#include "io/send_messages.hpp"

#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

namespace tcpkit {

namespace {

// Room for one IP_PKTINFO or IPV6_PKTINFO control message.
constexpr size_t kSourceControlBytes = CMSG_SPACE(std::max(sizeof(in_pktinfo), sizeof(in6_pktinfo)));
struct SourceControl {
  alignas(cmsghdr) unsigned char bytes[kSourceControlBytes];
};

// One control message in control, and the message pointed at it.
template <typename Info>
void put_control(msghdr& message, SourceControl& control, int level, int type, const Info& info) {
  message.msg_control = control.bytes;
  message.msg_controllen = CMSG_SPACE(sizeof info);
  cmsghdr* c = CMSG_FIRSTHDR(&message);
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(sizeof info);
  std::memcpy(CMSG_DATA(c), &info, sizeof info);
}

// The packet's own source address as its routing source: fills control and points the message
// at it, or leaves the message as it is when the bytes hold no IP header.
void route_by_source(msghdr& message, SourceControl& control, const uint8_t* packet, size_t length, int interface_index) {
  if (length >= 20 && (packet[0] >> 4) == 4) {
    in_pktinfo info{};
    info.ipi_ifindex = interface_index;
    std::memcpy(&info.ipi_spec_dst, packet + 12, 4);
    put_control(message, control, IPPROTO_IP, IP_PKTINFO, info);
  } else if (length >= 40 && (packet[0] >> 4) == 6) {
    in6_pktinfo info{};
    info.ipi6_ifindex = unsigned(interface_index);
    std::memcpy(&info.ipi6_addr, packet + 8, 16);
    put_control(message, control, IPPROTO_IPV6, IPV6_PKTINFO, info);
  }
}

}  // namespace

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
  RawSender sender(fd);
  if (!interface.empty()) {
    if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, interface.c_str(), socklen_t(interface.size())) < 0)
      return fail_errno("bind raw socket to interface '" + interface + "'", errno);
    auto index = interface_index(interface);
    if (!index) return tl::unexpected(index.error());
    sender.interface_index_ = *index;
  }
  // A source that is not this host's (-S to another address) stays allowed: IPv4's header-
  // included sends may use any; IPv6 checks a PKTINFO source unless the socket is free-bind.
  const int on = 1;
  if (family == Family::v6) setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &on, sizeof on);
  const int buffer = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  return sender;
}

Result<int64_t> RawSender::send(const std::vector<uint8_t>& packet, const IpAddress& dst) {
  socklen_t length = 0;
  const sockaddr_storage to = dst.to_sockaddr(0, &length);
  const int64_t now = realtime_ns();
  int e = 0;
  iovec iov{const_cast<uint8_t*>(packet.data()), packet.size()};
  msghdr message{};
  message.msg_name = const_cast<sockaddr_storage*>(&to);
  message.msg_namelen = length;
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  SourceControl control;
  route_by_source(message, control, packet.data(), packet.size(), interface_index_);
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (::sendmsg(fd_.get(), &message, 0) >= 0) {
      after_send(true, 1);
      return now;
    }
    e = errno;
    after_send(false, 0);
    if (e != EINTR && e != ENOBUFS) break;
  }
  return fail_errno("send to " + dst.to_string(), e);
}

bool RawSender::arm_tx_timestamps(bool on) {
  // OPT_TSONLY: the stamp comes without a copy of the packet; OPT_ID: with the packet's key.
  const unsigned flags = on ? SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID |
                                  SOF_TIMESTAMPING_OPT_TSONLY
                            : 0u;
  return setsockopt(fd_.get(), SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags) == 0;
}

bool RawSender::enable_tx_timestamps() {
  if (tx_timestamps_) return true;
  tx_timestamps_ = arm_tx_timestamps(true);
  next_tx_key_ = 0;
  return tx_timestamps_;
}

void RawSender::after_send(bool ok, size_t packets) {
  if (!tx_timestamps_) return;
  if (ok) {
    next_tx_key_ += uint32_t(packets);
    return;
  }
  // A failed send may or may not have used up a key. Start the count again from 0: drop the
  // stamps already queued (their keys would clash) and re-arm, which resets the kernel's key.
  (void)take_tx_stamps();
  arm_tx_timestamps(false);
  tx_timestamps_ = arm_tx_timestamps(true);
  next_tx_key_ = 0;
}

std::vector<RawSender::TxStamp> RawSender::take_tx_stamps() {
  std::vector<TxStamp> stamps;
  if (!fd_.valid()) return stamps;
  // Bounded: the queue holds at most what the socket's receive buffer allows.
  for (int i = 0; i < 4096; ++i) {
    char data[64];
    RecvMessage<256> message(data, sizeof data);
    if (::recvmsg(fd_.get(), &message.header, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
    std::optional<int64_t> time;
    std::optional<uint32_t> key;
    for (cmsghdr* c = CMSG_FIRSTHDR(&message.header); c; c = CMSG_NXTHDR(&message.header, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING &&
          c->cmsg_len >= CMSG_LEN(sizeof(scm_timestamping))) {
        scm_timestamping ts{};
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        if (ts.ts[0].tv_sec != 0 || ts.ts[0].tv_nsec != 0) time = int64_t(ts.ts[0].tv_sec) * 1'000'000'000 + ts.ts[0].tv_nsec;
      }
    }
    if (const auto error = queued_error(message.header);
        error && error->origin == SO_EE_ORIGIN_TIMESTAMPING && error->info == SCM_TSTAMP_SND)
      key = error->data;
    if (time && key) stamps.push_back(TxStamp{*key, *time});
  }
  return stamps;
}

Result<size_t> RawSender::send_batch(const std::vector<std::vector<uint8_t>>& packets, const std::vector<IpAddress>& dsts) {
  const size_t n = std::min(packets.size(), dsts.size());
  std::vector<sockaddr_storage> addresses(n);
  std::vector<iovec> iov(n);
  std::vector<mmsghdr> messages(n);
  std::vector<SourceControl> controls(n);
  for (size_t i = 0; i < n; ++i) {
    socklen_t length = 0;
    addresses[i] = dsts[i].to_sockaddr(0, &length);
    iov[i] = iovec{const_cast<uint8_t*>(packets[i].data()), packets[i].size()};
    messages[i] = mmsghdr{};
    messages[i].msg_hdr.msg_name = &addresses[i];
    messages[i].msg_hdr.msg_namelen = length;
    messages[i].msg_hdr.msg_iov = &iov[i];
    messages[i].msg_hdr.msg_iovlen = 1;
    route_by_source(messages[i].msg_hdr, controls[i], packets[i].data(), packets[i].size(), interface_index_);
  }
  return send_messages(fd_.get(), messages.data(), n, "sendmmsg",
                       [this](bool ok, size_t packets) { after_send(ok, packets); });
}

}  // namespace tcpkit
