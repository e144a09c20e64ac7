// The trace's reading of our kernel state: late reads and the state spans.
#include <catch2/catch.hpp>

#include "tcpkit/probe/connection_trace.hpp"

using namespace tcpkit;

namespace {

// One event: a segment at time_ns, the state machine's state after it, and the kernel's
// answer read at read_ns.
TraceEvent event(int64_t time_ns, TcpState inferred, TcpState kernel, int64_t read_ns) {
  TraceEvent e;
  e.segment.time_ns = time_ns;
  e.segment.local_state_inferred = inferred;
  e.local_state = kernel;
  e.local_state_read = true;
  e.local_state_read_ns = read_ns;
  return e;
}

constexpr int64_t ms = 1'000'000;

}  // namespace

TEST_CASE("a read made after the next segment arrived gives way to the state machine") {
  // Our FIN, the peer's ACK of it, and its FIN 50 us later: the kernel, asked 300 us after the
  // ACK, has handled the FIN too and says TIME_WAIT.
  std::vector<TraceEvent> events = {
      event(0, TcpState::fin_wait1, TcpState::fin_wait1, 300'000),
      event(10 * ms, TcpState::fin_wait2, TcpState::time_wait, 10 * ms + 300'000),
      event(10 * ms + 50'000, TcpState::time_wait, TcpState::time_wait, 10 * ms + 350'000),
  };
  resolve_late_state_reads(events);
  CHECK(events[1].local_state == TcpState::fin_wait2);
  CHECK(events[1].local_state_inferred);
  CHECK_FALSE(events[0].local_state_inferred);
  CHECK_FALSE(events[2].local_state_inferred);
  const auto spans = state_spans(events);
  REQUIRE(spans.size() == 3);
  CHECK(spans[1].state == TcpState::fin_wait2);
  CHECK(spans[1].end_ns == 10 * ms + 50'000);
  CHECK_FALSE(spans[2].end_ns);
}

TEST_CASE("the kernel's answer stands when it was read before the next segment or agrees") {
  // The same disagreement, but the FIN came 40 ms later: the kernel's word is kept.
  std::vector<TraceEvent> late_fin = {
      event(0, TcpState::fin_wait2, TcpState::time_wait, 300'000),
      event(40 * ms, TcpState::time_wait, TcpState::time_wait, 40 * ms + 300'000),
  };
  resolve_late_state_reads(late_fin);
  CHECK(late_fin[0].local_state == TcpState::time_wait);
  CHECK_FALSE(late_fin[0].local_state_inferred);

  // The SYN/ACK and our ACK microseconds apart: the kernel agrees with the state machine.
  std::vector<TraceEvent> agree = {
      event(0, TcpState::established, TcpState::established, 300'000),
      event(20'000, TcpState::established, TcpState::established, 320'000),
  };
  resolve_late_state_reads(agree);
  CHECK_FALSE(agree[0].local_state_inferred);

  // The state machine went astray (the peer's FIN held out of order, never released): it says
  // FIN_WAIT2 where the kernel, in LAST_ACK before, now says CLOSE, and the next segment (our
  // RST to a copy of the peer's ACK) came within the margin. The kernel's word stands.
  std::vector<TraceEvent> astray = {
      event(0, TcpState::fin_wait1, TcpState::last_ack, 300'000),
      event(10 * ms, TcpState::fin_wait2, TcpState::close, 10 * ms + 300'000),
      event(10 * ms + 20'000, TcpState::close, TcpState::close, 10 * ms + 320'000),
  };
  resolve_late_state_reads(astray);
  CHECK(astray[1].local_state == TcpState::close);
  CHECK_FALSE(astray[1].local_state_inferred);

  // A segment whose state could not be read stays unread.
  std::vector<TraceEvent> unread = {event(0, TcpState::fin_wait2, TcpState::close, 300'000), event(1000, TcpState::time_wait, TcpState::close, 0)};
  unread[0].local_state_read = false;
  resolve_late_state_reads(unread);
  CHECK_FALSE(unread[0].local_state_inferred);
  CHECK(state_spans(unread).size() == 1);
}

TEST_CASE("an outgoing segment's state change before its tap is within the margin") {
  // We send our FIN 100 us after the read: the kernel said FIN_WAIT1 for the segment before.
  std::vector<TraceEvent> events = {
      event(0, TcpState::established, TcpState::fin_wait1, 300'000),
      event(400'000, TcpState::fin_wait1, TcpState::fin_wait1, 700'000),
  };
  resolve_late_state_reads(events);
  CHECK(events[0].local_state == TcpState::established);
  CHECK(events[0].local_state_inferred);
}

namespace {
TraceEvent seg(Direction direction, uint8_t flags, TcpState peer) {
  TraceEvent e;
  e.segment.direction = direction;
  e.segment.flags = flags;
  e.segment.remote_state_inferred = peer;
  return e;
}
}  // namespace

TEST_CASE("the peer is SYN_RECEIVED after our SYN only when a SYN/ACK says so") {
  namespace f = tcp_flag;
  const auto out = Direction::outbound, in = Direction::inbound;
  // Answered by an RST: no listener, the peer's side was CLOSED all along.
  std::vector<TraceEvent> refused = {seg(out, f::syn, TcpState::syn_recv), seg(in, f::rst | f::ack, TcpState::close)};
  settle_peer_states(refused);
  CHECK(refused[0].segment.remote_state_inferred == TcpState::close);
  CHECK_FALSE(refused[0].peer_state_unknown);
  // Never answered (dropped, or an ICMP error): nothing shows what the peer is.
  std::vector<TraceEvent> dropped = {seg(out, f::syn, TcpState::syn_recv), seg(out, f::syn, TcpState::syn_recv)};
  settle_peer_states(dropped);
  CHECK(dropped[0].peer_state_unknown);
  CHECK(dropped[1].peer_state_unknown);
  // A SYN/ACK: the state machine was right, the retransmitted SYN before it included.
  std::vector<TraceEvent> open = {seg(out, f::syn, TcpState::syn_recv), seg(out, f::syn, TcpState::syn_recv),
                                  seg(in, f::syn | f::ack, TcpState::syn_recv), seg(out, f::ack, TcpState::established)};
  settle_peer_states(open);
  for (const auto& e : open) CHECK_FALSE(e.peer_state_unknown);
  CHECK(open[0].segment.remote_state_inferred == TcpState::syn_recv);
}

namespace {
TraceEvent seg(Direction d, uint8_t flags, uint32_t seq, uint32_t ack, int64_t time_ns) {
  TraceEvent e = seg(d, flags, TcpState::close);
  e.segment.seq = seq, e.segment.ack = ack, e.segment.time_ns = time_ns;
  return e;
}
}  // namespace

TEST_CASE("FINs that crossed are a simultaneous close, whether or not CLOSING was read") {
  // Found in CI: the peer's FIN did not ack ours, but its ACK of ours came within our state
  // read's settle time, so CLOSING was never read: "three-segment close".
  using D = Direction;
  constexpr uint8_t A = tcp_flag::ack, F = tcp_flag::fin;
  const std::vector<TraceEvent> crossed = {seg(D::outbound, F | A, 101, 501, 1 * ms),
                                           seg(D::inbound, F | A, 501, 101, 2 * ms),  // acks not our FIN
                                           seg(D::outbound, A, 102, 502, 3 * ms),
                                           seg(D::inbound, A, 502, 102, 4 * ms)};
  CHECK(close_kind(crossed, false) == "simultaneous close");
  CHECK(close_kind(crossed, true) == "simultaneous close");
  const std::vector<TraceEvent> three = {seg(D::outbound, F | A, 101, 501, 1 * ms),
                                         seg(D::inbound, F | A, 501, 102, 2 * ms),  // acks our FIN
                                         seg(D::outbound, A, 102, 502, 3 * ms)};
  CHECK(close_kind(three, false) == "three-segment close (the second FIN carried the ACK of the first)");
  const std::vector<TraceEvent> four = {seg(D::outbound, F | A, 101, 501, 1 * ms), seg(D::inbound, A, 501, 102, 2 * ms),
                                        seg(D::inbound, F | A, 501, 102, 3 * ms), seg(D::outbound, A, 102, 502, 4 * ms)};
  CHECK(close_kind(four, false) == "four-way close");
}

TEST_CASE("our kernel's RST from CLOSE, as it read, closes nothing, whatever the capture inferred") {
  // Under heavy reordering the capture's state machine never took the peer's FIN: it had us in
  // FIN_WAIT2 where the kernel said LAST_ACK, then CLOSE. Our kernel's RST to a network copy of
  // the peer's last ACK read "reset by us".
  using D = Direction;
  constexpr uint8_t A = tcp_flag::ack, F = tcp_flag::fin, R = tcp_flag::rst;
  std::vector<TraceEvent> events = {seg(D::inbound, F | A, 500, 101, 1 * ms), seg(D::outbound, F | A, 101, 501, 2 * ms),
                                    seg(D::inbound, A, 501, 102, 3 * ms), seg(D::outbound, R, 102, 0, 4 * ms)};
  const TcpState kernel[] = {TcpState::close_wait, TcpState::last_ack, TcpState::close, TcpState::close};
  const TcpState inferred[] = {TcpState::established, TcpState::fin_wait1, TcpState::fin_wait2, TcpState::close};
  for (size_t i = 0; i < events.size(); ++i) {
    events[i].local_state = kernel[i];
    events[i].local_state_read = true;
    events[i].segment.local_state_inferred = inferred[i];
    events[i].segment.remote_state_inferred = TcpState::close_wait;
  }
  CHECK(close_kind(events, false) != "reset by us");
  // Not read (the lookup failed): the capture's inference is all there is.
  for (auto& e : events) e.local_state_read = false;
  CHECK(close_kind(events, false) == "reset by us");
}

TEST_CASE("a peer that never took our handshake ACK is drawn in SYN_RECEIVED, not ESTABLISHED") {
  using D = Direction;
  constexpr uint8_t S = tcp_flag::syn, A = tcp_flag::ack, F = tcp_flag::fin, R = tcp_flag::rst;
  const auto peer = [](const std::vector<TraceEvent>& events) {
    std::vector<TcpState> out;
    for (const auto& e : events) out.push_back(e.segment.remote_state_inferred);
    return out;
  };
  // A full accept queue: our ACK and FIN dropped, the SYN/ACK sent again.
  std::vector<TraceEvent> resent = {seg(D::outbound, S, 100, 0, 0),       seg(D::inbound, S | A, 500, 101, 1 * ms),
                                    seg(D::outbound, A, 101, 501, 2 * ms), seg(D::outbound, F | A, 101, 501, 3 * ms),
                                    seg(D::inbound, S | A, 500, 101, 1000 * ms), seg(D::outbound, A, 102, 501, 1001 * ms)};
  CHECK(settle_unaccepted_handshake(resent) == HandshakeRefusal::synack_resent);
  CHECK(peer(resent) == std::vector<TcpState>{TcpState::close, TcpState::close, TcpState::syn_recv, TcpState::syn_recv,
                                              TcpState::syn_recv, TcpState::syn_recv});
  // The first ACK lost on the way, the second taken: the peer acks our FIN. Not refused.
  std::vector<TraceEvent> lost = resent;
  lost.push_back(seg(D::inbound, A, 501, 102, 1002 * ms));
  CHECK(settle_unaccepted_handshake(lost) == HandshakeRefusal::none);
  // tcp_abort_on_overflow: an RST without ACK at our ACK's number, the peer's first word after it.
  std::vector<TraceEvent> reset = {seg(D::outbound, S, 100, 0, 0),       seg(D::inbound, S | A, 500, 101, 1 * ms),
                                   seg(D::outbound, A, 101, 501, 2 * ms), seg(D::outbound, F | A, 101, 501, 3 * ms),
                                   seg(D::inbound, R, 501, 0, 4 * ms),    seg(D::inbound, R, 501, 0, 5 * ms)};
  CHECK(settle_unaccepted_handshake(reset) == HandshakeRefusal::ack_reset);
  CHECK(peer(reset)[2] == TcpState::syn_recv);
  CHECK(peer(reset)[3] == TcpState::syn_recv);
  CHECK(peer(reset)[4] == TcpState::close);
  // A firewall that resets our data, the ACK before it taken: one RST, a round trip after the
  // data (found: "the peer reset our ACK of its SYN/ACK" for a server that held the connection).
  constexpr uint8_t P = tcp_flag::psh;
  std::vector<TraceEvent> data_reset = {seg(D::outbound, S, 100, 0, 0),         seg(D::inbound, S | A, 500, 101, 10 * ms),
                                        seg(D::outbound, A, 101, 501, 11 * ms), seg(D::outbound, P | A, 101, 501, 12 * ms),
                                        seg(D::inbound, R, 501, 0, 22 * ms)};
  CHECK(settle_unaccepted_handshake(data_reset) == HandshakeRefusal::none);
  CHECK(peer(data_reset)[3] == TcpState::close);  // untouched
  // Our data 8 ms after the ACK, and one RST a round trip after the ACK, 2 ms after the data:
  // too soon to answer the data, so it answers the ACK.
  data_reset[3].segment.time_ns = 19 * ms;
  data_reset.back().segment.time_ns = 21 * ms;
  CHECK(settle_unaccepted_handshake(data_reset) == HandshakeRefusal::ack_reset);
  // An RST too soon after the ACK for the peer to have answered it (a firewall near us resets
  // the data), or with another TTL than the SYN/ACK's: not the peer's answer to the ACK.
  data_reset[3].segment.time_ns = 12 * ms;
  data_reset.back().segment.time_ns = 13 * ms;
  CHECK(settle_unaccepted_handshake(data_reset) == HandshakeRefusal::none);
  data_reset[3].segment.time_ns = 19 * ms;
  data_reset.back().segment.time_ns = 21 * ms;
  data_reset.back().segment.ttl = 63;
  data_reset[1].segment.ttl = 64;
  CHECK(settle_unaccepted_handshake(data_reset) == HandshakeRefusal::none);
  // An application's abort after accept: RST+ACK from an established peer. Not refused.
  std::vector<TraceEvent> abort = {seg(D::outbound, S, 100, 0, 0), seg(D::inbound, S | A, 500, 101, 1 * ms),
                                   seg(D::outbound, A, 101, 501, 2 * ms), seg(D::inbound, R | A, 501, 101, 4 * ms)};
  CHECK(settle_unaccepted_handshake(abort) == HandshakeRefusal::none);
  CHECK(peer(abort)[2] == TcpState::close);  // untouched
  // No handshake ACK at all (refused, unanswered): nothing to settle.
  std::vector<TraceEvent> refused = {seg(D::outbound, S, 100, 0, 0), seg(D::inbound, R | A, 0, 101, 1 * ms)};
  CHECK(settle_unaccepted_handshake(refused) == HandshakeRefusal::none);
}

TEST_CASE("a bare ACK the peer ignored (TCP_DEFER_ACCEPT) leaves it in SYN_RECEIVED up to its SYN/ACK again") {
  // Seen with nginx `listen ... deferred`: our ACK drawn as making the peer ESTABLISHED for a
  // second, while ss showed SYN-RECV until our ACK of the repeated SYN/ACK.
  using D = Direction;
  constexpr uint8_t S = tcp_flag::syn, A = tcp_flag::ack, F = tcp_flag::fin;
  std::vector<TraceEvent> deferred = {seg(D::outbound, S, 100, 0, 0),          seg(D::inbound, S | A, 500, 101, 1 * ms),
                                      seg(D::outbound, A, 101, 501, 2 * ms),    seg(D::inbound, S | A, 500, 101, 1000 * ms),
                                      seg(D::outbound, A, 101, 501, 1001 * ms), seg(D::outbound, F | A, 101, 501, 2500 * ms),
                                      seg(D::inbound, F | A, 501, 102, 2510 * ms), seg(D::outbound, A, 102, 502, 2511 * ms)};
  for (auto& e : deferred) e.segment.remote_state_inferred = TcpState::established;  // what the tracker drew
  CHECK(settle_unaccepted_handshake(deferred) == HandshakeRefusal::none);  // it took the later ACK
  CHECK(settle_ignored_ack(deferred));
  CHECK(deferred[2].segment.remote_state_inferred == TcpState::syn_recv);
  CHECK(deferred[3].segment.remote_state_inferred == TcpState::established);  // untouched from the SYN/ACK on
  // A SYN/ACK that crossed our FIN says nothing of the ACK before it: the FIN was taken.
  std::vector<TraceEvent> crossed = {seg(D::outbound, S, 100, 0, 0),          seg(D::inbound, S | A, 500, 101, 1 * ms),
                                     seg(D::outbound, A, 101, 501, 2 * ms),    seg(D::outbound, F | A, 101, 501, 3 * ms),
                                     seg(D::inbound, S | A, 500, 101, 4 * ms), seg(D::inbound, F | A, 501, 102, 5 * ms)};
  CHECK_FALSE(settle_ignored_ack(crossed));
  // No SYN/ACK again: nothing to settle.
  std::vector<TraceEvent> plain = {seg(D::outbound, S, 100, 0, 0), seg(D::inbound, S | A, 500, 101, 1 * ms),
                                   seg(D::outbound, A, 101, 501, 2 * ms)};
  CHECK_FALSE(settle_ignored_ack(plain));
  // A network copy of the SYN/ACK (the tracker marks it duplicate) is no resend: found on a
  // duplicating path, the peer drawn in SYN_RECV and a note of TCP_DEFER_ACCEPT or a lost ACK.
  std::vector<TraceEvent> copied = {seg(D::outbound, S, 100, 0, 0),           seg(D::inbound, S | A, 500, 101, 1 * ms),
                                    seg(D::outbound, A, 101, 501, 2 * ms),     seg(D::inbound, S | A, 500, 101, 1 * ms + 28'000),
                                    seg(D::outbound, A, 101, 501, 3 * ms)};
  copied[3].segment.duplicate = true;
  for (auto& e : copied) e.segment.remote_state_inferred = TcpState::established;
  CHECK_FALSE(settle_ignored_ack(copied));
  CHECK(copied[2].segment.remote_state_inferred == TcpState::established);
  CHECK(settle_unaccepted_handshake(copied) == HandshakeRefusal::none);
}

TEST_CASE("a FIN our kernel has not put on the wire yet keeps the state it read") {
  // Found with a route of initcwnd 1 (the FIN waits behind the unacked data): FIN_WAIT1 read
  // after our data, then after the peer's ACK of it, with our FIN 42 us later. The ACK's read
  // gave way to the state machine, which had seen no FIN: FIN_WAIT1, ESTABLISHED, FIN_WAIT1.
  std::vector<TraceEvent> held = {
      event(7 * ms, TcpState::established, TcpState::fin_wait1, 7 * ms + 300'000),
      event(13 * ms, TcpState::established, TcpState::fin_wait1, 13 * ms + 60'000),
      event(13 * ms + 42'000, TcpState::fin_wait1, TcpState::fin_wait1, 13 * ms + 100'000),
  };
  resolve_late_state_reads(held);
  for (const auto& e : held) CHECK(e.local_state == TcpState::fin_wait1);
  CHECK_FALSE(held[1].local_state_inferred);
  REQUIRE(state_spans(held).size() == 1);

  // A FIN a local firewall dropped: FIN_WAIT1 read after the peer's data, which our ACK follows
  // at once; no segment by then leads to FIN_WAIT1, so the kernel's word stands.
  std::vector<TraceEvent> dropped = {
      event(0, TcpState::established, TcpState::established, 300'000),
      event(100 * ms, TcpState::established, TcpState::fin_wait1, 100 * ms + 80'000),
      event(100 * ms + 10'000, TcpState::established, TcpState::fin_wait1, 100 * ms + 90'000),
  };
  resolve_late_state_reads(dropped);
  CHECK(dropped[1].local_state == TcpState::fin_wait1);
  CHECK_FALSE(dropped[1].local_state_inferred);
}

TEST_CASE("our close delay starts when the peer's FIN could take effect, not when it arrived early") {
  // Found on a lossy path: the peer's FIN arrived ahead of a gap, its data came again 389 ms
  // later, and all of that was our "own delay from the peer's FIN to its FIN".
  using D = Direction;
  constexpr uint8_t A = tcp_flag::ack, F = tcp_flag::fin, P = tcp_flag::psh;
  auto data = [](uint32_t seq, uint32_t length, int64_t time_ns, TcpState ours) {
    TraceEvent e = seg(D::inbound, P | A, seq, 101, time_ns);
    e.segment.payload_length = length;
    e.segment.local_state_inferred = ours;
    return e;
  };
  auto fin = [](int64_t time_ns, TcpState ours) {
    TraceEvent e = seg(D::inbound, F | A, 601, 101, time_ns);
    e.segment.local_state_inferred = ours;
    return e;
  };
  const TcpState est = TcpState::established, cw = TcpState::close_wait;
  const std::vector<TraceEvent> in_order = {data(501, 100, 1 * ms, est), fin(2 * ms, cw),
                                            seg(D::outbound, F | A, 101, 602, 3 * ms)};
  CHECK(own_close_delay(in_order) == 1 * ms);
  // Bytes 501-600 lost, the FIN (at 601) in ahead of them; they come again at 390 ms.
  const std::vector<TraceEvent> gap = {fin(2 * ms, est), data(501, 100, 390 * ms, cw),
                                       seg(D::outbound, F | A, 101, 602, 391 * ms)};
  CHECK(own_close_delay(gap) == 1 * ms);
  // A spurious copy of data we had, after the FIN took effect, moves nothing (review).
  const std::vector<TraceEvent> spurious = {data(501, 100, 1 * ms, est), fin(2 * ms, cw), data(501, 100, 250 * ms, cw),
                                            seg(D::outbound, F | A, 101, 602, 300 * ms)};
  CHECK(own_close_delay(spurious) == 298 * ms);
  // We closed first: no delay of ours after the peer's FIN.
  const std::vector<TraceEvent> ours_first = {seg(D::outbound, F | A, 101, 501, 1 * ms),
                                              seg(D::inbound, F | A, 501, 102, 2 * ms)};
  CHECK_FALSE(own_close_delay(ours_first));
}

TEST_CASE("a FIN of ours nothing acknowledged leaves the peer's state unknown, not CLOSE_WAIT") {
  // Found by an explorer: a router dropped our FINs; the trace drew the peer in CLOSE_WAIT on
  // every row from our FIN on, while ss showed it ESTABLISHED.
  using D = Direction;
  constexpr uint8_t A = tcp_flag::ack, F = tcp_flag::fin, P = tcp_flag::psh;
  std::vector<TraceEvent> lost = {seg(D::inbound, A, 501, 101, 1 * ms), seg(D::outbound, F | A, 101, 501, 2 * ms),
                                  seg(D::outbound, F | A, 101, 501, 300 * ms)};
  lost[2].segment.retransmission = true;
  CHECK(settle_unacked_fin(lost) == UnackedFin::never);
  CHECK_FALSE(lost[0].peer_state_unknown);
  CHECK(lost[1].peer_state_unknown);
  CHECK(lost[2].peer_state_unknown);
  // Not sent again: the trace ended too soon to tell (Ctrl-C, the time limit right after it).
  std::vector<TraceEvent> soon = {seg(D::outbound, F | A, 101, 501, 1 * ms)};
  CHECK(settle_unacked_fin(soon) == UnackedFin::not_yet);
  CHECK(soon[0].peer_state_unknown);
  // Acknowledged at once: nothing changes.
  std::vector<TraceEvent> acked = {seg(D::outbound, F | A, 101, 501, 1 * ms), seg(D::inbound, A, 501, 102, 2 * ms)};
  CHECK(settle_unacked_fin(acked) == UnackedFin::acked);
  CHECK_FALSE(acked[0].peer_state_unknown);
  CHECK_FALSE(acked[1].peer_state_unknown);
  // The peer's data in flight after our FIN does not ack it: unknown up to the ACK (review).
  auto data = [&](uint32_t seq, int64_t time_ns) {
    TraceEvent e = seg(D::inbound, P | A, seq, 101, time_ns);
    e.segment.payload_length = 10;
    return e;
  };
  std::vector<TraceEvent> in_flight = {seg(D::outbound, F | A, 101, 501, 1 * ms), data(501, 2 * ms), data(511, 3 * ms),
                                       seg(D::outbound, A, 102, 521, 4 * ms), seg(D::inbound, A, 521, 102, 5 * ms)};
  CHECK(settle_unacked_fin(in_flight) == UnackedFin::acked);
  for (size_t i = 0; i < 4; ++i) CHECK(in_flight[i].peer_state_unknown);
  CHECK_FALSE(in_flight[4].peer_state_unknown);
  // FINs that crossed: the peer's FIN does not ack ours; the state machine drew it CLOSING, which
  // stands; our FIN's row before it is unknown, not CLOSE_WAIT.
  std::vector<TraceEvent> crossed = {seg(D::outbound, F | A, 101, 501, 1 * ms), seg(D::inbound, F | A, 501, 101, 2 * ms),
                                     seg(D::outbound, A, 102, 502, 3 * ms), seg(D::inbound, A, 502, 102, 4 * ms)};
  crossed[1].segment.remote_state_inferred = crossed[2].segment.remote_state_inferred = TcpState::closing;
  CHECK(settle_unacked_fin(crossed) == UnackedFin::acked);
  CHECK(crossed[0].peer_state_unknown);
  CHECK_FALSE(crossed[1].peer_state_unknown);
  CHECK_FALSE(crossed[2].peer_state_unknown);
  CHECK_FALSE(crossed[3].peer_state_unknown);
  // The peer's RST after our FIN ends it: the rows before it are unknown, no note.
  std::vector<TraceEvent> reset = {seg(D::outbound, F | A, 101, 501, 1 * ms),
                                   seg(D::inbound, tcp_flag::rst, 501, 0, 2 * ms)};
  CHECK(settle_unacked_fin(reset) == UnackedFin::acked);
  CHECK(reset[0].peer_state_unknown);
  CHECK_FALSE(reset[1].peer_state_unknown);
}
