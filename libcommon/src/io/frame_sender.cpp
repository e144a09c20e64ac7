#include "tcpkit/io/frame_sender.hpp"

#include "io/send_messages.hpp"

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tcpkit {

namespace {
// The socket buffer a burst of probes queues into (as RawSender's).
constexpr int kSendBuffer = 4 << 20;
// At most this many frames per sendmmsg: the engine's batches are smaller still.
constexpr size_t kMaxBatch = 1024;
}  // namespace

Result<FrameSender> FrameSender::open(const FrameRoute& route) {
  // Protocol 0, in socket() and in bind(): the socket sends only. Bound to a protocol, it would
  // be handed a copy of every frame of that type the interface receives (the scan's replies,
  // never read), at a cost per reply. The kernel takes each frame's protocol from its header.
  const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail_errno("packet socket", errno);
  FrameSender sender(fd);
  const uint16_t ether_type = route.family == Family::v6 ? ETH_P_IPV6 : ETH_P_IP;
  sockaddr_ll link{};
  link.sll_family = AF_PACKET;
  link.sll_ifindex = route.interface_index;
  link.sll_protocol = 0;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&link), sizeof link) < 0)
    return fail_errno("bind packet socket to interface #" + std::to_string(route.interface_index), errno);
  if (route.bypass_qdisc) {
    const int on = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof on) < 0)
      return fail_errno("PACKET_QDISC_BYPASS", errno);
  }
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSendBuffer, sizeof kSendBuffer);
  std::memcpy(sender.header_, route.next_hop.data(), 6);
  std::memcpy(sender.header_ + 6, route.source.data(), 6);
  sender.header_[12] = uint8_t(ether_type >> 8);
  sender.header_[13] = uint8_t(ether_type & 0xFF);
  return sender;
}

Result<size_t> FrameSender::send_batch(const std::vector<std::vector<uint8_t>>& packets,
                                       const std::vector<IpAddress>& dsts) {
  const size_t n = std::min({packets.size(), dsts.size(), kMaxBatch});
  iov_.resize(2 * n);
  messages_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    iov_[2 * i] = iovec{header_, sizeof header_};
    iov_[2 * i + 1] = iovec{const_cast<uint8_t*>(packets[i].data()), packets[i].size()};
    messages_[i] = mmsghdr{};
    messages_[i].msg_hdr.msg_iov = &iov_[2 * i];
    messages_[i].msg_hdr.msg_iovlen = 2;
  }
  return send_messages(fd_.get(), messages_.data(), n, "sendmmsg (packet socket)", [](bool, size_t) {});
}

}  // namespace tcpkit
