#pragma once
// Follows one TCP connection's sequence space from captured segments: ISNs, SND.NXT and
// RCV.NXT of both sides, windows with their negotiated scale, retransmissions, and each side's
// RFC 9293 state as the segments imply it. Pure logic: feed it decoded packets (from a capture,
// or from fixtures in tests). Segments of any other 4-tuple are ignored, never trusted.
#include <cstdint>
#include <optional>
#include <string>

#include <utility>
#include <vector>

#include "tcpkit/io/capture.hpp"
#include "tcpkit/util/reject_counts.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/wire/segment.hpp"
#include "tcpkit/sockets/tcp_state.hpp"

namespace tcpkit {

struct FourTuple {
  IpAddress local, remote;
  uint16_t local_port = 0, remote_port = 0;
  std::string to_string() const;  // "10.0.0.1:40000 -> 10.0.0.2:80"
};

enum class Direction { outbound, inbound };  // from the local side, to the local side

// One segment of the connection, with what the tracker made of it.
struct TrackedSegment {
  Direction direction = Direction::outbound;
  int64_t time_ns = 0;
  TimestampSource timestamps = TimestampSource::kernel;
  uint32_t seq = 0, ack = 0;
  uint32_t relative_seq = 0, relative_ack = 0;  // from the ISNs (0 before they are known)
  uint8_t flags = 0;
  uint16_t window = 0;          // as on the wire
  uint32_t scaled_window = 0;   // bytes, with the negotiated scale (none in SYNs)
  uint32_t payload_length = 0;
  uint32_t sequence_length = 0; // payload + SYN + FIN
  uint8_t ttl = 0;
  TcpOptions options;
  bool retransmission = false;  // repeats sequence space (or a SYN / FIN) sent before
  // A late original: below the sender's next sequence number, its bytes never seen, and sent
  // before a segment that came ahead of it: by its IPv4 ID, where the sender's count up (a
  // retransmission gets a new one), else by its TSval (conn_tracker.cpp late_original). It was
  // overtaken on the way, and nothing was lost.
  bool out_of_order = false;
  // Starts beyond the sender's next sequence number: something before it is missing, lost or
  // still on the way; which of the two, only the segment that fills the hole tells.
  bool after_gap = false;
  bool duplicate_ack = false;   // a pure ACK repeating the previous ACK, window and all
  // No data at one below SND.NXT (the sender's last byte sent again, without it): the sender's
  // kernel asking whether the window reopened (zero_window: the receiver's last window was 0)
  // or a keepalive; never a duplicate ACK.
  bool window_probe = false;
  bool zero_window = false;
  // An inbound copy of the peer's previous segment, timestamp option and all: the network
  // duplicated it (a retransmission a millisecond or more later carries a new TSval; a stack
  // repeating a pure ACK at once looks the same, and changes no state either). No state change.
  bool duplicate = false;
  // IPv4 and a duplicate for certain: it has the IP ID of the segment it copies (of the peer's
  // latest few, not only the last), which a stack does not use twice so soon. A copy of an
  // earlier ACK that the network delayed past our next segment passed for its answer.
  bool copy_proven = false;
  uint16_t ip_id = 0;           // IPv4 identification (0 for IPv6, and from stacks that send 0)
  // Our kernel's RST answering a segment the tracker rejected (RFC 9293: <SEQ=SEG.ACK><CTL=RST>
  // to an unacceptable ACK in SYN-SENT): an answer to a forgery, not our close. No state change.
  bool answers_rejected = false;
  // A SYN of the peer's at an ISN other than the one it opened with: a SYN proxy answering in
  // its name (nft synproxy answers a SYN on a live connection with a zero-window SYN/ACK of its
  // own), or another incarnation's. Its seq and TSval belong to no clock of this connection: no
  // state change.
  bool foreign_syn = false;
  // Each side's state after this segment, from the RFC 9293 state machine.
  TcpState local_state_inferred = TcpState::close;
  TcpState remote_state_inferred = TcpState::listen;
};

class ConnectionTracker {
 public:
  // The remote side is assumed LISTENing (we connect to it); the local one CLOSED.
  explicit ConnectionTracker(FourTuple tuple);

  // A captured packet: returns the tracked segment when it belongs to this connection. On
  // loopback every packet is captured twice (leaving and arriving); outgoing copies of inbound
  // segments and incoming copies of outbound ones are dropped here.
  //
  // An inbound segment the peer cannot have sent is rejected (nullopt, counted in rejected()):
  // to our port from the remote port but another address (wrong address); in SYN-SENT, one
  // with ACK whose ack is not our ISN+1 (wrong ack); once synchronized, an ack beyond what we
  // sent or below our ISN (wrong ack), or a seq outside [the peer's ISN, its SND.NXT + 1 MiB]
  // (wrong seq). Our stack drops such segments too, so they must not move either side's state.
  // Exceptions that stay acceptable: a SYN/ACK acking a SYN we sent later (TIME_WAIT reuse),
  // an RST|ACK acking what we sent, or the start or end of one of our latest segments (even
  // one outside the window: a stack may answer it so; its seq may be 0, RFC 9293 3.10.7.1).
  std::optional<TrackedSegment> feed(const DecodedPacket& packet, bool captured_outgoing, int64_t time_ns,
                                     TimestampSource source = TimestampSource::kernel);
  const RejectCounts& rejected() const { return rejected_; }

  struct Side {
    std::optional<uint32_t> isn;
    std::optional<uint32_t> next_seq;      // SND.NXT: highest sequence number sent + 1
    std::optional<uint32_t> last_ack;      // the last acknowledgment number it sent
    std::optional<uint32_t> fin_seq;       // sequence number of its FIN
    // What the receiver has of it in order (its RCV.NXT), and the later pieces it holds: a FIN
    // that arrives before the data ahead of it is queued, not acted on (RFC 9293 3.10.7.4).
    std::optional<uint32_t> in_order_end;
    struct Piece {
      uint32_t first = 0, second = 0;  // [start, end)
      std::optional<uint32_t> tsval;   // its TSval: a segment sent before it has one no newer
      uint16_t ip_id = 0;              // its IPv4 ID (0: none), older in one sent before it
    };
    std::vector<Piece> held;               // pieces beyond in_order_end in the order they came, at most a few
    bool fin_held = false;                 // its FIN arrived ahead of data still missing
    uint16_t window = 0;                   // last advertised, as on the wire
    bool window_in_syn = false;            // ... in a SYN, where it is never scaled
    std::optional<uint8_t> window_scale;   // from its SYN
    bool timestamps_in_syn = false;        // its SYN carried the timestamp option
    std::optional<uint32_t> last_tsval;    // the TSval of its latest segment that had one
    std::optional<uint32_t> newest_tsval;  // the newest TSval it sent (a late segment's is older)
    // Its IPv4 IDs, when they count up (Linux: per connection; other stacks: per host): the
    // newest, and how many steps forward by a little were seen; one leap (random IDs) ends it.
    std::optional<uint16_t> newest_ip_id;
    int ip_id_steps = 0;
    bool ip_ids_random = false;
    bool ip_ids_count() const { return !ip_ids_random && ip_id_steps >= 4; }
    uint64_t segments = 0, retransmissions = 0;
    TcpState state = TcpState::close;
    std::optional<uint32_t> last_syn_seq;  // of the latest SYN it sent (a new one may reuse a TIME_WAIT)
    bool syn_ack_sent = false;             // it sent a SYN/ACK (after a bare SYN: a simultaneous open)
    std::optional<TrackedSegment> last;    // its previous segment, to tell a network duplicate
    std::vector<TrackedSegment> recent;    // its latest segments with an IP ID, for copies of older ones
  };
  const Side& local() const { return local_; }
  const Side& remote() const { return remote_; }
  const FourTuple& tuple() const { return tuple_; }
  bool synchronized() const { return local_.isn && remote_.isn; }
  bool window_scaling() const { return local_.window_scale && remote_.window_scale; }

  // For segments we inject toward the remote side, as if from the local one:
  // RCV.NXT of the remote side (the exact next sequence number it accepts) ...
  std::optional<uint32_t> exact_next_seq() const { return local_.next_seq; }
  // ... the remote's receive window in bytes (its last advertisement, scaled) ...
  uint32_t remote_window() const;
  // ... a sequence number inside that window but not the exact one (offset > 0, < window) ...
  std::optional<uint32_t> in_window_seq(uint32_t offset) const;
  // ... one `beyond` bytes past the window's right edge ...
  std::optional<uint32_t> out_of_window_seq(uint32_t beyond) const;
  // ... and the acknowledgment number that acks everything the remote side sent.
  std::optional<uint32_t> ack_for_remote() const { return remote_.next_seq; }
  // ... and, when both SYNs carried timestamps (RFC 7323 §3.2: then every segment must), the
  // option a segment of ours needs: our kernel's latest TSval (never below the peer's
  // TS.Recent, so PAWS keeps it) and the peer's latest TSval echoed.
  std::optional<TcpOptions> timestamp_echo_for_remote() const;

 private:
  std::optional<RejectReason> check_inbound(const DecodedTcp& t) const;
  // The steps of feed().
  std::optional<Direction> direction_of(const DecodedPacket& packet, bool captured_outgoing);
  bool reject_inbound(const DecodedTcp& t);
  bool answers_rejected(const DecodedTcp& t) const;
  void remember_sent(const DecodedTcp& t, uint32_t sequence_length);
  TrackedSegment with_states(TrackedSegment s) const;

  FourTuple tuple_;
  Side local_, remote_;
  RejectCounts rejected_;
  std::vector<uint32_t> rejected_acks_;  // ack fields of rejected segments (bounded): our RSTs answer them
  std::vector<uint32_t> sent_edges_;     // seq and seq + length of our latest segments (bounded)
  std::vector<uint32_t> sent_acks_;      // ack fields of our latest segments with ACK (bounded)
};

// Advances one side's state for a segment it sent or received (RFC 9293 §3.3.2). Exposed for
// the verdict logic and for tests.
TcpState state_after_send(TcpState state, uint8_t flags);
TcpState state_after_receive(TcpState state, uint8_t flags, bool acks_our_syn, bool acks_our_fin);

}  // namespace tcpkit
