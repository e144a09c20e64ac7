#pragma once
// The bytes of every probe a scan sends, and of our RSTs: one template per distinct source
// address (made from the probe kind's shape), patched per target with the round's source port
// and the cookie. The engine's sender writes every probe through write(), and the dry run
// shows what write() produced, so the two cannot drift apart.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tcpkit/scan/probe_kind.hpp"
#include "tcpkit/scan/scan_probe.hpp"
#include "tcpkit/scan/scan_setup.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/cookie.hpp"

namespace tcpkit {

class ProbeWriter {
 public:
  // Refuses per-round source ports past 65535. sources must outlive the writer.
  static Result<ProbeWriter> make(const ScanConfig& config, const ScanSources& sources);

  const ProbeKind& kind() const { return *kind_; }
  const IpAddress& source(size_t range) const { return list_[of_range_[range]].address; }
  bool v6(size_t range) const { return list_[of_range_[range]].probe.v6(); }

  // The probe to target:port of the given target range from source port sport: resizes packet
  // and writes it there. Returns the numbers it carries (for the reply check).
  ProbeNumbers write(std::vector<uint8_t>& packet, size_t range, const IpAddress& target, uint16_t port,
                     uint16_t sport) const;

  // The cookie of a 4-tuple, and what the probe to it carried.
  uint64_t cookie_of(const IpAddress& local, uint16_t local_port, const IpAddress& target, uint16_t target_port) const {
    return cookie_.of(local, local_port, target, target_port);
  }
  ProbeNumbers numbers_of(uint64_t cookie) const { return probe_numbers(flags_, cookie); }

  // Our RST from local:local_port (one of the scan's sources) to target:target_port; false when
  // local is none of ours.
  bool write_reset(std::vector<uint8_t>& packet, const IpAddress& local, uint16_t local_port, const IpAddress& target,
                   uint16_t target_port, uint32_t seq, uint64_t cookie) const;

 private:
  struct Source {
    IpAddress address;
    PacketTemplate probe, reset;
  };
  const ProbeKind* kind_ = nullptr;
  uint8_t flags_ = 0;
  ScanCookie cookie_{SipKey{}};
  std::vector<Source> list_;
  std::vector<uint32_t> of_range_;  // index into list_ for each target range
};

}  // namespace tcpkit
