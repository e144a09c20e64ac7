#pragma once
// One real connection's life, segment by segment: opened with the kernel's connect(), optionally
// carrying data, closed one of three ways, with our socket's real state (read from the kernel
// after each segment) and the peer's state as RFC 9293 implies it.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tcpkit/probe/conn_tracker.hpp"
#include "tcpkit/probe/live_connection.hpp"
#include "tcpkit/util/error.hpp"

namespace tcpkit {

enum class CloseMode {
  local,  // we send the first FIN (shutdown), then read until the peer's FIN
  peer,   // we wait for the peer's FIN, then close
  reset,  // abortive close: SO_LINGER 0, an RST
};

struct TraceConfig {
  IpAddress destination;
  uint16_t port = 80;
  std::optional<IpAddress> source;
  std::string interface;
  std::optional<uint16_t> source_port;
  CloseMode close = CloseMode::local;
  std::string send_data;                                   // written once the handshake is done
  std::chrono::milliseconds connect_timeout{3000};         // for the SYN/ACK
  std::chrono::milliseconds peer_close_timeout{5000};      // --close peer: for the peer's FIN
  std::chrono::milliseconds limit{30000};                  // the whole trace, whatever happens
  std::chrono::microseconds settle{300};                   // before reading our state after a segment
  bool raw_seqs_in_notes = false;                          // notes quote seqs as on the wire, not relative
};

struct TraceEvent {
  TrackedSegment segment;
  TcpState local_state = TcpState::close;  // the kernel's, read after the segment (CLOSE: no socket)
  bool local_state_read = false;           // false when the kernel could not be asked
  // True when the next segment was already on the wire before the kernel answered and the
  // answer disagreed with the RFC 9293 state machine (it may show the next segment's effect,
  // as when the peer's ACK and FIN come a few microseconds apart): local_state is then the
  // state machine's.
  bool local_state_inferred = false;
  int64_t local_state_read_ns = 0;  // CLOCK_REALTIME (the capture's clock) when the answer came
  // The peer's state after this segment cannot be told (segment.remote_state_inferred is then
  // meaningless): our SYN was never answered, so nothing shows the port listens.
  bool peer_state_unknown = false;
  // Our RST at the time limit or on Ctrl-C: tcpprobe's cleanup, shown last, never the close the
  // trace reports (its kind and times are the connection's before it).
  bool cleanup_reset = false;
};

struct StateSpan {
  TcpState state = TcpState::close;
  int64_t start_ns = 0;
  std::optional<int64_t> end_ns;  // open while the state lasts
};

struct TraceResult {
  FourTuple tuple;
  std::string interface;
  std::vector<TraceEvent> events;
  std::vector<StateSpan> local_states;           // our states in order, as the events give them
  std::optional<int64_t> syn_to_synack_ns;       // SYN -> SYN/ACK on the wire
  std::optional<int64_t> syn_to_established_ns;  // SYN -> our ACK (the kernel says ESTABLISHED)
  std::optional<int64_t> close_ns;               // first FIN or RST -> last segment, of a close that ended
  // The same span when the close did not end (half closed: one FIN only, at the time limit or
  // when the peer's FIN never came): no close time, how long it had been under way.
  std::optional<int64_t> unfinished_close_ns;
  std::optional<int64_t> time_wait_left_ms;      // the kernel's TIME_WAIT timer, when we hold it
  // Our ACK ending the handshake -> our first data, FIN or RST: the time the tool itself took to
  // act, part of ESTABLISHED (not set when we wait for the peer to close first without data).
  std::optional<int64_t> own_delay_ns;
  // --close peer: from the peer's FIN to ours, our own reaction (CLOSE_WAIT is ours to end).
  std::optional<int64_t> own_close_delay_ns;
  std::string outcome;     // "closed", "refused", "unreachable", "failed", "no answer", "time limit", "interrupted"
  std::string close_kind;  // "four-way close", "three-segment close", "simultaneous close", "reset by us", ...
  // The ICMP error that ended connect() (outcome "unreachable"): what it said and who sent it.
  struct Icmp {
    bool v6 = false;
    uint8_t type = 0, code = 0;
    std::optional<IpAddress> from;
    std::string text;  // "communication administratively prohibited"
  };
  std::optional<Icmp> icmp;
  // bytes_sent: what send() took (written); bytes_acked: of it, what the peer acknowledged
  // (found: a peer whose window never opened, behind a SYN proxy, had "sent 18" of none).
  uint64_t bytes_sent = 0, bytes_received = 0, bytes_acked = 0;
  RejectCounts rejected;    // inbound segments that cannot be the peer's (never shown as events)
  uint64_t duplicates = 0;  // network copies of a segment, shown and marked, never acted on
  // ICMP errors about our segments while the connection lived (outcome stays the connection's):
  // a router's fragmentation needed shows why segments were sent again smaller.
  std::vector<ConnectionIcmp> icmp_errors;
  std::vector<std::string> notes;  // retransmissions seen, a peer that never closed, ...
};

// Needs CAP_NET_RAW (the capture). Stops early, with what it has, when cancel_fd is readable.
Result<TraceResult> trace_connection(const TraceConfig& config, int cancel_fd = -1);

// The kernel is asked for our state a moment after each segment. Where a later segment was
// already on the wire when the answer came (segments microseconds apart), the answer may show
// that segment's effect too: when it disagrees with the RFC 9293 state machine, shows the state
// such a segment leads to, and not the one the event before was given, the event takes the
// state machine's state, marked as inferred. Otherwise the kernel's word stands (a FIN it holds
// back is FIN_WAIT1 before the wire shows it).
void resolve_late_state_reads(std::vector<TraceEvent>& events);

// The state machine assumes the peer LISTENs, and puts it in SYN_RECEIVED when our SYN arrives.
// Once the trace is over the answer tells: a SYN answered by an RST found no listener (the peer's
// side was CLOSED), an unanswered one tells nothing (unknown).
void settle_peer_states(std::vector<TraceEvent>& events);

// The state machine moves the peer on at our FIN (CLOSE_WAIT) as if it had arrived. Unless the
// peer's next segment acknowledged it, the rows from our FIN to the peer's ACK of it (or its RST,
// or the end) show the peer unknown, but for those drawn CLOSING or later (its own FIN crossed
// ours). Found: a router dropping our FINs, a firewall that had lost the connection's state; ss
// showed the peer ESTABLISHED while the trace drew CLOSE_WAIT. What the trace saw of our FIN:
enum class UnackedFin {
  acked,    // acknowledged (or reset), or no FIN of ours
  never,    // sent again, never acknowledged: it may never have arrived
  not_yet,  // the trace ended before an ACK could come (never sent again)
};
UnackedFin settle_unacked_fin(std::vector<TraceEvent>& events);

// Whether the peer took our ACK of its SYN/ACK, by its own segments. It did not when it sent the
// SYN/ACK again after that ACK and nothing but SYN/ACKs and RSTs at all (a listener whose accept
// queue is full drops the ACK, as does a firewall that drops ours), or when its first word after
// our ACK was an RST without ACK at the ACK's number (our ACK met no connection: a full queue
// with tcp_abort_on_overflow, or a listener that closed). It then never was ESTABLISHED: the
// rows from our ACK on show it in SYN_RECEIVED (CLOSED from its RST on), not in the states our
// segments would have moved it to.
enum class HandshakeRefusal { none, synack_resent, ack_reset };
HandshakeRefusal settle_unaccepted_handshake(std::vector<TraceEvent>& events);

// The peer sent its SYN/ACK again after our ACK and later took a segment of ours: it had not
// taken that first ACK, and stayed in SYN_RECEIVED up to the repeated SYN/ACK (TCP_DEFER_ACCEPT
// ignores a bare ACK on purpose; a lost ACK looks the same). Only while we sent nothing but pure
// ACKs: a FIN or data of ours that the SYN/ACK crossed was taken. The rows from our ACK to the
// last such SYN/ACK then show the peer in SYN_RECEIVED; true when any row was so settled.
bool settle_ignored_ack(std::vector<TraceEvent>& events);

// Our handshake ACK -> our next segment with data, FIN or RST, from the events; nullopt when
// either is missing.
std::optional<int64_t> own_delay_after_handshake(const std::vector<TraceEvent>& events);
// Who closed how, from the segments: "four-way close", "three-segment close (...)", "simultaneous
// close" (our state read CLOSING, or the second FIN did not ack the first), "reset by us", ...
std::string close_kind(const std::vector<TraceEvent>& events, bool saw_closing);
// From the peer's first FIN to our first FIN after it; nothing when we sent ours first. When data
// before that FIN was missing, from the segment that filled the gap (the first inbound segment
// that put us in CLOSE_WAIT): the FIN took effect then.
std::optional<int64_t> own_close_delay(const std::vector<TraceEvent>& events);

// Our states in order, each from the first segment that showed it to the first that did not.
std::vector<StateSpan> state_spans(const std::vector<TraceEvent>& events);

}  // namespace tcpkit
