#pragma once
// Sending whole IP packets as Ethernet frames through a packet socket (PF_PACKET), to one next
// hop: the kernel's routing, netfilter and neighbour lookup are skipped, which is what makes it
// faster than IPPROTO_RAW for a scan's millions of small probes. The caller has chosen the
// interface and the next hop's address (io/link_layer.hpp).
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "tcpkit/io/neighbours.hpp"
#include "tcpkit/io/unique_fd.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

struct FrameRoute {
  int interface_index = 0;
  MacAddress source{}, next_hop{};
  Family family = Family::v4;  // the EtherType of every frame: IPv4 or IPv6
  // PACKET_QDISC_BYPASS: straight to the driver. Faster still, but the frames then skip the
  // interface's queueing discipline and its taps: tcpdump on this host does not see them.
  bool bypass_qdisc = false;
};

class FrameSender {
 public:
  // Needs CAP_NET_RAW. Fails when bypass_qdisc is asked and the kernel refuses it.
  static Result<FrameSender> open(const FrameRoute& route);

  // Sends many IP packets, each behind the route's Ethernet header (sendmmsg, the header and
  // the packet gathered from two buffers); returns how many went out. dsts is unused (the next
  // hop is fixed): the signature is RawSender's, so one sending loop serves both.
  Result<size_t> send_batch(const std::vector<std::vector<uint8_t>>& packets, const std::vector<IpAddress>& dsts);

 private:
  explicit FrameSender(int fd) : fd_(fd) {}
  UniqueFd fd_;
  uint8_t header_[14] = {};  // destination, source, EtherType
  std::vector<iovec> iov_;     // kept between batches: no allocation per send
  std::vector<mmsghdr> messages_;
};

}  // namespace tcpkit
