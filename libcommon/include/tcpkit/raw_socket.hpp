#pragma once
// Sending crafted IP packets through a raw socket (IPPROTO_RAW: we write the IP header).
#include <cstdint>
#include <string>
#include <vector>

#include "tcpkit/error.hpp"
#include "tcpkit/ip_address.hpp"

namespace tcpkit {

class RawSender {
 public:
  // Needs CAP_NET_RAW (a privilege error otherwise). A non-empty interface binds the socket
  // to it (SO_BINDTODEVICE), as -I asks.
  static Result<RawSender> open(Family family, const std::string& interface = "");

  RawSender(RawSender&& other) noexcept;
  RawSender& operator=(RawSender&& other) noexcept;
  RawSender(const RawSender&) = delete;
  RawSender& operator=(const RawSender&) = delete;
  ~RawSender();

  // Sends one whole IP packet to dst. Returns the CLOCK_REALTIME nanoseconds taken just
  // before the send (a user-space fallback when the capture misses our own packet).
  Result<int64_t> send(const std::vector<uint8_t>& packet, const IpAddress& dst);
  // Sends many packets at once (sendmmsg); returns how many went out.
  Result<size_t> send_batch(const std::vector<std::vector<uint8_t>>& packets, const std::vector<IpAddress>& dsts);

  int fd() const { return fd_; }

 private:
  explicit RawSender(int fd, Family family) : fd_(fd), family_(family) {}
  int fd_ = -1;
  Family family_ = Family::v4;
};

// CLOCK_REALTIME now, in nanoseconds (the clock of kernel packet timestamps).
int64_t realtime_ns();

}  // namespace tcpkit
