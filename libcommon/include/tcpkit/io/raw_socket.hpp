#pragma once
// Sending crafted IP packets through a raw socket (IPPROTO_RAW: we write the IP header).
#include <cstdint>
#include <string>
#include <vector>

#include "tcpkit/io/unique_fd.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

class RawSender {
 public:
  // Needs CAP_NET_RAW (a privilege error otherwise). A non-empty interface binds the socket
  // to it (SO_BINDTODEVICE), as -I asks.
  static Result<RawSender> open(Family family, const std::string& interface = "");

  RawSender(RawSender&& other) noexcept = default;
  RawSender& operator=(RawSender&& other) noexcept = default;

  // Each packet is routed by its own source address (IP_PKTINFO / IPV6_PKTINFO), as the kernel
  // routes a socket bound to it: a policy rule "from <address>" applies (found: unbound, every
  // probe left by the main table's route and its answers came back elsewhere).
  // Sends one whole IP packet to dst. Returns the CLOCK_REALTIME nanoseconds taken just
  // before the send (a user-space fallback when the capture misses our own packet).
  Result<int64_t> send(const std::vector<uint8_t>& packet, const IpAddress& dst);
  // Sends many packets at once (sendmmsg); returns how many went out.
  Result<size_t> send_batch(const std::vector<std::vector<uint8_t>>& packets, const std::vector<IpAddress>& dsts);

  // Kernel send timestamps (SO_TIMESTAMPING, software TX): the driver stamps each packet as
  // it hands it to the device, so the clock starts where the packet leaves, not where our
  // syscall began. Each packet gets a key, counted from 0 in send order. False when this
  // kernel or socket cannot do it; sends work the same either way.
  bool enable_tx_timestamps();
  bool tx_timestamps() const { return tx_timestamps_; }
  // The key of the last packet sent (valid after a successful send, while tx_timestamps()).
  uint32_t last_tx_key() const { return next_tx_key_ - 1; }
  struct TxStamp {
    uint32_t key = 0;
    int64_t time_ns = 0;  // CLOCK_REALTIME, the clock of capture timestamps
  };
  // The stamps queued so far, oldest first; never waits.
  std::vector<TxStamp> take_tx_stamps();

  int fd() const { return fd_.get(); }

 private:
  explicit RawSender(int fd) : fd_(fd) {}
  bool arm_tx_timestamps(bool on);
  void after_send(bool ok, size_t packets);
  UniqueFd fd_;
  int interface_index_ = 0;  // -I's, named in each packet's PKTINFO as well
  bool tx_timestamps_ = false;
  uint32_t next_tx_key_ = 0;
};

// CLOCK_REALTIME now, in nanoseconds (the clock of kernel packet timestamps).
int64_t realtime_ns();

}  // namespace tcpkit
