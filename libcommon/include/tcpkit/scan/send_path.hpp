#pragma once
// How a scan's probes leave: as Ethernet frames through a packet socket (io/frame_sender.hpp),
// or as IP packets through IPPROTO_RAW (io/raw_socket.hpp), which the kernel routes.
//
// Frames need one next hop per address family whose Ethernet address is known: every target
// of the family routed through the same interface and the same gateway, or a single target on
// the link itself. Anything else (loopback, tunnels, targets spread over the local link,
// several routes) takes the IP path, which is always right; automatic mode says why.
#include <optional>
#include <string>

#include "tcpkit/io/frame_sender.hpp"
#include "tcpkit/scan/scan_setup.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/target_set.hpp"

namespace tcpkit {

enum class SendMode {
  automatic,  // Ethernet frames where they can go, else IP (the default)
  ethernet,   // frames or an error (--send-eth)
  ip,         // IPPROTO_RAW always (--send-ip)
};

// What the choice is made on, for the targets of one address family.
struct NextHopFacts {
  bool ethernet = false;             // the one interface they leave by is Ethernet
  std::optional<IpAddress> next_hop;  // the one next hop they share
  std::string why_not;               // when either is missing: why, in a few words
};

// The pure part of the choice (unit-tested): frames, or the IP path with the reason; an error
// when --send-eth asked for frames that cannot go.
struct PathDecision {
  bool frames = false;
  std::string why_ip;  // empty when frames, or when --send-ip chose IP
};
Result<PathDecision> decide_send_path(SendMode mode, const NextHopFacts& facts);

// The chosen path of each family the scan sends to.
struct SendPath {
  std::optional<FrameRoute> v4, v6;  // frames for that family; IP packets when empty
  std::string why_ip;                // automatic mode fell back to IP: why (first family's)
  bool has_v4 = false, has_v6 = false;  // the families the scan sends to
  bool frames() const { return v4 || v6; }
};

// From the routes choose_sources found for every range's first address, and a route to each
// range's last address: the one next hop, if any. Reads the interface, and resolves the next
// hop's Ethernet address, asking the kernel for it when it is not in the neighbour table (at
// most 1 s). --send-ip (SendMode::ip) asks nothing.
Result<SendPath> choose_send_path(const TargetSet& targets, const ScanSources& sources,
                                  const std::optional<IpAddress>& source, SendMode mode, bool bypass_qdisc);

// "ethernet", "ethernet-bypass" or "ip": the summary's words for a path ("ethernet+ip" when
// one family goes each way).
std::string send_path_name(const SendPath& path);

}  // namespace tcpkit
