#pragma once
// Running one tcpstray case against a target: what the runners share (the target, the result
// of a run, the marked raw sender). The runners themselves are stray_stateless (closed and
// listening ports) and stray_connection (a live connection and the peer's TIME_WAIT).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tcpkit/util/error.hpp"
#include "tcpkit/io/raw_socket.hpp"
#include "tcpkit/io/route.hpp"
#include "tcpkit/wire/segment.hpp"
#include "tcpkit/stray/stray_case.hpp"
#include "tcpkit/stray/stray_verdict.hpp"

namespace tcpkit {

struct StrayTarget {
  IpAddress address;
  uint16_t port = 0;          // the listening port (listen, live and time-wait groups)
  uint16_t closed_port = 1;   // a port nothing listens on (closed group)
  Route route;                // source address and interface
  bool bind_interface = false;
  std::chrono::microseconds timeout{1'000'000};  // how long to wait for each answer (-W)
  // How long a connection case waits for its handshake, when longer than timeout: time for our
  // kernel to send its SYN again on a path that loses one (twice more, after 1 s and 3 s; three
  // times, every second, where a newer kernel has net.ipv4.tcp_syn_linear_timeouts).
  std::chrono::microseconds handshake_timeout{3'500'000};
  std::string request;        // sent on the time-wait connections so the peer closes first
  // Sent on a live connection before its case, and acked, so that the peer is shown to have
  // taken the connection (a listener that defers accept keeps it half-open until data comes).
  // Empty: nothing is sent. The session sets it for a control run (stray_session.cpp).
  std::string prime;
};

struct StrayRun {
  StrayCase id = StrayCase::closed_fin;
  std::string sent;                    // the injected segment, relative to the connection
  uint16_t local_port = 0;
  StrayProbe probe;
  StrayObservation seen;
  std::vector<StraySegment> segments;  // every segment of the case both ways, in order (-v)
  // Replies rejected over the whole case, its setup included (seen.rejected: during the wait).
  RejectCounts rejected;
  // The case saw the path lose packets: its handshake did not complete, or the peer
  // retransmitted (it did not hear us, or we did not hear it).
  bool path_loss = false;
  // The connection was primed (StrayTarget::prime): the peer acked our bytes before the case.
  bool primed = false;
};

// Whether the peer showed on this case's connection that it had taken it (ESTABLISHED or later):
// it sent data, a FIN or a keepalive of its own, or the connection was primed. A listener's
// half-open entry (SYN-RECEIVED) does none of these.
bool stray_peer_took_connection(const StrayRun& run);

// Whether the case shows that the path loses packets: path_loss, or an answer that came only to
// a second try of the same segment.
bool stray_saw_loss(const StrayRun& run);

// The raw sender for injected segments. Its packets carry kStrayPacketMark when the process
// may set marks (CAP_NET_ADMIN), so the kernel-RST guard lets our own RSTs through.
struct MarkedSender {
  RawSender sender;
  bool marked = false;
};
Result<MarkedSender> open_marked_sender(const StrayTarget& target);

// Crafts and sends one segment from `source` to the target; returns the spec sent. `window` as on
// the wire, for any segment but an RST (which carries none): by default what Linux offers in a
// SYN; on a live connection the caller gives what our stack last said.
Result<SegmentSpec> send_stray_segment(RawSender& sender, const IpAddress& source, uint16_t sport,
                                       const IpAddress& destination, uint16_t dport, uint8_t flags, uint32_t seq,
                                       uint32_t ack, std::vector<uint8_t> payload = {}, TcpOptions options = {},
                                       std::optional<uint16_t> window = std::nullopt);

// A random 32-bit number for sequence and acknowledgment numbers.
uint32_t stray_random32();

}  // namespace tcpkit
