#include <catch2/catch.hpp>

#include "fixture_packets.hpp"
#include "tcpkit/probe/conn_tracker.hpp"

using namespace tcpkit;

namespace {

const IpAddress kClient = *IpAddress::parse("10.0.0.1");
const IpAddress kServer = *IpAddress::parse("10.0.0.2");

FourTuple tuple(uint16_t client_port = 40000, uint16_t server_port = 80) {
  return FourTuple{kClient, kServer, client_port, server_port};
}

// Crafts a segment and decodes it back, as the capture would hand it over.
DecodedPacket segment(bool outbound, uint8_t flags, uint32_t seq, uint32_t ack, size_t payload = 0,
                      uint16_t window = 1000, TcpOptions options = {}, uint16_t client_port = 40000,
                      uint16_t ip_id = 0) {
  SegmentSpec s;
  s.ip_id = ip_id;
  s.src = outbound ? kClient : kServer;
  s.dst = outbound ? kServer : kClient;
  s.sport = outbound ? client_port : 80;
  s.dport = outbound ? 80 : client_port;
  s.seq = seq;
  s.ack = ack;
  s.flags = flags;
  s.window = window;
  s.options = options;
  s.payload.assign(payload, 'x');
  auto bytes = craft_segment(s).value();
  return *decode_packet(bytes.data(), bytes.size());
}

TcpOptions ws(uint8_t scale) {
  TcpOptions o;
  o.add_mss(1460).add_nop().add_window_scale(scale);
  return o;
}

constexpr uint8_t S = tcp_flag::syn, A = tcp_flag::ack, F = tcp_flag::fin, R = tcp_flag::rst, P = tcp_flag::psh;

struct Fed {
  ConnectionTracker tracker{tuple()};
  int64_t clock = 0;
  TrackedSegment feed(const DecodedPacket& p, bool outbound) {
    auto s = tracker.feed(p, outbound, clock += 1000);
    REQUIRE(s);
    return *s;
  }
};

}  // namespace

TEST_CASE("a real kernel connection: relative numbers and both sides' states") {
  const auto packets = load_packets("handshake_close_v4.hex");
  const auto first = *decode_packet(packets[0].data(), packets[0].size());
  ConnectionTracker tracker(FourTuple{first.src, first.dst, first.tcp.sport, first.tcp.dport});
  std::vector<TrackedSegment> seen;
  for (size_t i = 0; i < 9; ++i) {
    const auto d = *decode_packet(packets[i].data(), packets[i].size());
    const bool outbound = d.tcp.sport == first.tcp.sport;
    auto s = tracker.feed(d, outbound, int64_t(i));
    REQUIRE(s);
    seen.push_back(*s);
  }
  // SYN, SYN/ACK, ACK, data, ACK, FIN, ACK, FIN, ACK.
  CHECK(seen[1].relative_ack == 1);
  CHECK(seen[3].payload_length == 5);
  CHECK(seen[4].relative_ack == 6);
  CHECK(seen[5].relative_seq == 6);  // our FIN after 5 bytes
  CHECK(seen[6].relative_ack == 7);  // the FIN is acked with seq + 1
  CHECK(seen[8].relative_ack == 2);
  const TcpState local[] = {TcpState::syn_sent,  TcpState::established, TcpState::established,
                            TcpState::established, TcpState::established, TcpState::fin_wait1,
                            TcpState::fin_wait2, TcpState::time_wait,   TcpState::time_wait};
  const TcpState remote[] = {TcpState::syn_recv,    TcpState::syn_recv,    TcpState::established,
                             TcpState::established, TcpState::established, TcpState::close_wait,
                             TcpState::close_wait,  TcpState::last_ack,    TcpState::close};
  for (size_t i = 0; i < 9; ++i) {
    INFO("segment " << i);
    CHECK(seen[i].local_state_inferred == local[i]);
    CHECK(seen[i].remote_state_inferred == remote[i]);
    CHECK_FALSE(seen[i].retransmission);
  }
  // The window scale both sides offered (10) applies after the handshake.
  CHECK(tracker.window_scaling());
  CHECK(seen[4].scaled_window == uint32_t(seen[4].window) << 10);
  CHECK(seen[1].scaled_window == seen[1].window);  // never scaled in a SYN
}

TEST_CASE("segments of other connections are ignored and change nothing") {
  Fed f;
  f.feed(segment(true, S, 100, 0), true);
  ConnectionTracker::Side before = f.tracker.local();
  CHECK_FALSE(f.tracker.feed(segment(true, S, 999, 0, 0, 1000, {}, 40001), true, 1));       // other port
  CHECK_FALSE(f.tracker.feed(segment(false, S | A, 5, 999, 0, 1000, {}, 40001), false, 2));  // its answer
  CHECK(f.tracker.local().next_seq == before.next_seq);
  CHECK(f.tracker.local().segments == before.segments);
  // Loopback's second copy of a packet (inbound seen as captured leaving, and vice versa).
  CHECK_FALSE(f.tracker.feed(segment(true, A, 101, 1), false, 3));
  CHECK_FALSE(f.tracker.feed(segment(false, S | A, 500, 101), true, 4));
  // Not TCP at all.
  DecodedPacket other;
  other.kind = DecodedPacket::Kind::icmp_error;
  CHECK_FALSE(f.tracker.feed(other, false, 5));
}

TEST_CASE("retransmissions of SYN/ACK and data are flagged, fresh data is not") {
  Fed f;
  f.feed(segment(true, S, 1000, 0), true);
  CHECK_FALSE(f.feed(segment(false, S | A, 5000, 1001), false).retransmission);
  f.feed(segment(true, A, 1001, 5001), true);
  CHECK(f.tracker.remote().state == TcpState::established);
  const auto again = f.feed(segment(false, S | A, 5000, 1001), false);  // our ACK was lost
  CHECK(again.retransmission);
  CHECK(again.remote_state_inferred == TcpState::syn_recv);  // its own word: it never got the ACK
  f.feed(segment(true, A, 1001, 5001), true);
  CHECK_FALSE(f.feed(segment(true, P | A, 1001, 5001, 100), true).retransmission);
  CHECK(f.feed(segment(true, P | A, 1001, 5001, 100), true).retransmission);
  CHECK_FALSE(f.feed(segment(true, P | A, 1101, 5001, 100), true).retransmission);
  CHECK(f.tracker.local().retransmissions == 1);
  CHECK(f.tracker.remote().retransmissions == 1);
  CHECK(f.tracker.remote().state == TcpState::established);
}

TEST_CASE("a SYN/ACK of the peer's at another ISN is shown, never acted on") {
  // Found behind nft synproxy: our SYN on a live connection drew the proxy's zero-window SYN/ACK
  // at an ISN of its own, counted as a peer retransmission (tcpstray then blamed path loss), and
  // its seq, were it ahead, moved the peer's SND.NXT.
  Fed f;
  f.feed(segment(true, S, 1000, 0), true);
  f.feed(segment(false, S | A, 5000, 1001), false);
  f.feed(segment(true, A, 1001, 5001), true);
  f.feed(segment(true, S, 1500, 0), true);  // a crafted SYN in the window
  for (const uint32_t isn : {4000u, 9000u}) {  // behind and ahead of the peer's SND.NXT
    const auto proxy = f.feed(segment(false, S | A, isn, 1501, 0, 0), false);
    CHECK(proxy.foreign_syn);
    CHECK_FALSE(proxy.retransmission);
    CHECK_FALSE(proxy.after_gap);
    CHECK(proxy.remote_state_inferred == TcpState::established);
  }
  CHECK(f.tracker.remote().retransmissions == 0);
  CHECK(f.tracker.remote().next_seq == 5001u);
  CHECK(f.tracker.remote().window == 1000);
  // The SYN/ACK at its own ISN again is the peer's, and a retransmission, as before.
  CHECK(f.feed(segment(false, S | A, 5000, 1001), false).retransmission);
}

TEST_CASE("a simultaneous open's SYN/ACK at our ISN answers the peer's SYN: not a retransmission") {
  // A split handshake: the peer answers our SYN with a bare SYN of its own, and our kernel (in
  // SYN-SENT) answers that with a SYN/ACK at its ISN (found: labelled a retransmission).
  Fed f;
  f.feed(segment(true, S, 1000, 0), true);
  CHECK_FALSE(f.feed(segment(false, S, 5000, 0), false).retransmission);
  const auto answer = f.feed(segment(true, S | A, 1000, 5001), true);
  CHECK_FALSE(answer.retransmission);
  CHECK(answer.relative_ack == 1);
  CHECK(f.feed(segment(true, S | A, 1000, 5001), true).retransmission);  // that SYN/ACK again
  CHECK(f.tracker.local().retransmissions == 1);
  // A bare SYN at the same ISN is still our SYN sent again.
  Fed g;
  g.feed(segment(true, S, 1000, 0), true);
  CHECK(g.feed(segment(true, S, 1000, 0), true).retransmission);
}

TEST_CASE("out-of-order segments and duplicate ACKs are flagged") {
  Fed f;
  f.feed(segment(true, S, 1000, 0), true);
  f.feed(segment(false, S | A, 5000, 1001), false);
  f.feed(segment(true, A, 1001, 5001), true);
  auto gap = f.feed(segment(false, P | A, 5101, 1001, 100), false);  // 5001..5100 missing
  CHECK(gap.after_gap);  // lost or overtaken: not known yet
  CHECK_FALSE(gap.out_of_order);
  auto first_ack = f.feed(segment(true, A, 1001, 5001), true);
  CHECK(first_ack.duplicate_ack);  // the same ACK as the handshake's third segment
  auto filler = f.feed(segment(false, P | A, 5001, 1001, 100), false);
  CHECK(filler.retransmission);  // below the highest sequence already seen from that side
}

TEST_CASE("sequence numbers wrap around 2^32 cleanly") {
  Fed f;
  const uint32_t isn = 0xffffff00u;
  f.feed(segment(true, S, isn, 0), true);
  f.feed(segment(false, S | A, 7, isn + 1), false);
  f.feed(segment(true, A, isn + 1, 8), true);
  uint32_t seq = isn + 1;
  for (int i = 0; i < 5; ++i) {  // 5 x 100 bytes: crosses 2^32
    auto s = f.feed(segment(true, P | A, seq, 8, 100), true);
    CHECK_FALSE(s.retransmission);
    CHECK_FALSE(s.out_of_order);
    CHECK(s.relative_seq == 1 + 100u * uint32_t(i));
    seq += 100;
  }
  CHECK(*f.tracker.local().next_seq == isn + 501);
  CHECK(*f.tracker.local().next_seq < isn);  // it really wrapped
  auto ack = f.feed(segment(false, A, 8, seq), false);
  CHECK(ack.relative_ack == 501);
  CHECK(f.tracker.exact_next_seq() == seq);
}

TEST_CASE("window scaling: only when both SYNs offered it, and injection helpers use it") {
  SECTION("both sides scale") {
    Fed f;
    f.feed(segment(true, S, 100, 0, 0, 64240, ws(7)), true);
    f.feed(segment(false, S | A, 900, 101, 0, 65160, ws(10)), false);
    CHECK(f.tracker.remote_window() == 65160u);  // a SYN/ACK's window is never scaled
    CHECK(f.tracker.out_of_window_seq(1) == 101u + 65160u + 1);
    f.feed(segment(true, A, 101, 901, 0, 502), true);
    auto peer = f.feed(segment(false, A, 901, 101, 0, 64), false);
    CHECK(peer.scaled_window == 64u << 10);
    CHECK(f.tracker.remote_window() == 64u << 10);
    CHECK(f.tracker.exact_next_seq() == 101u);
    CHECK(f.tracker.in_window_seq(1000) == 1101u);
    CHECK(f.tracker.out_of_window_seq(1) == 101u + (64u << 10) + 1);
    CHECK(f.tracker.ack_for_remote() == 901u);
  }
  SECTION("one side did not offer it: no scaling") {
    Fed f;
    f.feed(segment(true, S, 100, 0, 0, 64240, ws(7)), true);
    f.feed(segment(false, S | A, 900, 101, 0, 65160), false);
    f.feed(segment(true, A, 101, 901, 0, 502), true);
    auto peer = f.feed(segment(false, A, 901, 101, 0, 64), false);
    CHECK_FALSE(f.tracker.window_scaling());
    CHECK(peer.scaled_window == 64);
    CHECK(f.tracker.remote_window() == 64);
  }
}

TEST_CASE("close variants move both sides through the right states") {
  auto open = [](Fed& f) {
    f.feed(segment(true, S, 100, 0), true);
    f.feed(segment(false, S | A, 900, 101), false);
    f.feed(segment(true, A, 101, 901), true);
  };
  SECTION("three-segment close: the peer's FIN carries the ACK of ours") {
    Fed f;
    open(f);
    f.feed(segment(true, F | A, 101, 901), true);
    auto s = f.feed(segment(false, F | A, 901, 102), false);
    CHECK(s.local_state_inferred == TcpState::time_wait);  // FIN_WAIT_2 skipped
    CHECK(s.remote_state_inferred == TcpState::last_ack);
    s = f.feed(segment(true, A, 102, 902), true);
    CHECK(s.remote_state_inferred == TcpState::close);
  }
  SECTION("peer closes first") {
    Fed f;
    open(f);
    auto s = f.feed(segment(false, F | A, 901, 101), false);
    CHECK(s.local_state_inferred == TcpState::close_wait);
    CHECK(s.remote_state_inferred == TcpState::fin_wait1);
    s = f.feed(segment(true, A, 101, 902), true);
    CHECK(s.remote_state_inferred == TcpState::fin_wait2);
    s = f.feed(segment(true, F | A, 101, 902), true);
    CHECK(s.local_state_inferred == TcpState::last_ack);
    CHECK(s.remote_state_inferred == TcpState::time_wait);
    s = f.feed(segment(false, A, 902, 102), false);
    CHECK(s.local_state_inferred == TcpState::close);
  }
  SECTION("a repeated SYN/ACK that crossed our ACK and FIN: the peer's FIN that acks ours is from LAST_ACK") {
    // Seen: the peer drawn back to SYN_RECV, then FIN_WAIT1 and FIN_WAIT2, while it had taken
    // our ACK and FIN and went CLOSE_WAIT -> LAST_ACK -> CLOSED.
    Fed f;
    open(f);
    f.feed(segment(true, F | A, 101, 901), true);
    auto s = f.feed(segment(false, S | A, 900, 101), false);
    CHECK(s.retransmission);
    CHECK(s.remote_state_inferred == TcpState::syn_recv);  // as it was when it sent that SYN/ACK
    f.feed(segment(true, A, 102, 901), true);               // our kernel's answer to it
    s = f.feed(segment(false, F | A, 901, 102), false);
    CHECK(s.remote_state_inferred == TcpState::last_ack);
    CHECK(s.local_state_inferred == TcpState::time_wait);
    s = f.feed(segment(true, A, 102, 902), true);
    CHECK(s.remote_state_inferred == TcpState::close);
  }
  SECTION("our last ACK lost: the peer's FIN again puts it back in LAST_ACK") {
    // Seen with the server's input dropping our ACK of its FIN: the trace drew it CLOSED while
    // it sent the FIN again from LAST_ACK.
    Fed f;
    open(f);
    f.feed(segment(true, F | A, 101, 901), true);
    f.feed(segment(false, A, 901, 102), false);
    f.feed(segment(false, F | A, 901, 102), false);
    auto s = f.feed(segment(true, A, 102, 902), true);
    CHECK(s.remote_state_inferred == TcpState::close);
    s = f.feed(segment(false, F | A, 901, 102), false);
    CHECK(s.retransmission);
    CHECK(s.remote_state_inferred == TcpState::last_ack);
    CHECK(s.local_state_inferred == TcpState::time_wait);
    s = f.feed(segment(true, A, 102, 902), true);
    CHECK(s.remote_state_inferred == TcpState::close);
  }
  SECTION("simultaneous close goes through CLOSING") {
    Fed f;
    open(f);
    f.feed(segment(true, F | A, 101, 901), true);
    auto s = f.feed(segment(false, F | A, 901, 101), false);  // crossed: does not ack our FIN
    CHECK(s.local_state_inferred == TcpState::closing);
    // The peer sent it from FIN_WAIT1, not CLOSE_WAIT, and our FIN made that CLOSING; it was
    // drawn LAST_ACK, then CLOSE (ss on the peer said TIME-WAIT).
    CHECK(s.remote_state_inferred == TcpState::closing);
    s = f.feed(segment(true, A, 102, 902), true);  // our ACK of its FIN
    CHECK(s.remote_state_inferred == TcpState::time_wait);
    s = f.feed(segment(false, A, 902, 102), false);
    CHECK(s.local_state_inferred == TcpState::time_wait);
    CHECK(s.remote_state_inferred == TcpState::time_wait);
  }
  SECTION("crossed FINs while the peer's data was lost: the FIN ahead of the gap still made CLOSING") {
    // A lossy path (seen at 25 % loss): our FIN lost, the peer's data lost, its FIN (acking
    // our data only) arrives first. It was drawn LAST_ACK, then CLOSE; ss said TIME-WAIT.
    Fed f;
    open(f);
    f.feed(segment(true, P | A, 101, 901, 18), true);
    f.feed(segment(true, F | A, 119, 901), true);
    f.feed(segment(false, A, 901, 119), false);
    auto s = f.feed(segment(false, F | A, 996, 119), false);  // its 95 bytes before it lost
    CHECK(s.after_gap);
    CHECK(s.remote_state_inferred == TcpState::closing);
    CHECK(s.local_state_inferred == TcpState::fin_wait1);  // the FIN waits for the data
    f.feed(segment(true, A, 120, 901), true);              // our duplicate ACK
    s = f.feed(segment(true, F | A, 119, 901), true);      // our FIN again
    CHECK(s.retransmission);
    s = f.feed(segment(false, A, 997, 120), false);        // it has our FIN
    CHECK(s.local_state_inferred == TcpState::fin_wait2);
    CHECK(s.remote_state_inferred == TcpState::closing);
    s = f.feed(segment(false, P | A, 901, 120, 95), false);  // the data again: the FIN is in order
    CHECK(s.local_state_inferred == TcpState::time_wait);
    s = f.feed(segment(true, A, 120, 997), true);
    CHECK(s.remote_state_inferred == TcpState::time_wait);
  }
  SECTION("reset") {
    Fed f;
    open(f);
    auto s = f.feed(segment(true, R | A, 101, 901), true);
    CHECK(s.local_state_inferred == TcpState::close);
    CHECK(s.remote_state_inferred == TcpState::close);
    CHECK_FALSE(s.duplicate_ack);
  }
}

TEST_CASE("the state machine functions follow RFC 9293") {
  CHECK(state_after_send(TcpState::close, S) == TcpState::syn_sent);
  CHECK(state_after_send(TcpState::established, F | A) == TcpState::fin_wait1);
  CHECK(state_after_send(TcpState::close_wait, F | A) == TcpState::last_ack);
  CHECK(state_after_send(TcpState::established, R) == TcpState::close);
  CHECK(state_after_receive(TcpState::syn_sent, S | A, true, false) == TcpState::established);
  CHECK(state_after_receive(TcpState::syn_sent, S | A, false, false) == TcpState::syn_sent);  // wrong ACK
  CHECK(state_after_receive(TcpState::syn_sent, S, false, false) == TcpState::syn_recv);     // simultaneous open
  CHECK(state_after_receive(TcpState::listen, R, false, false) == TcpState::listen);
  CHECK(state_after_receive(TcpState::fin_wait1, A, false, true) == TcpState::fin_wait2);
  CHECK(state_after_receive(TcpState::fin_wait1, F | A, false, true) == TcpState::time_wait);
  CHECK(state_after_receive(TcpState::fin_wait1, F | A, false, false) == TcpState::closing);
  CHECK(state_after_receive(TcpState::last_ack, A, false, true) == TcpState::close);
}

TEST_CASE("segments the peer cannot have sent are rejected, counted by why, and move no state") {
  Fed f;
  f.feed(segment(true, S, 1000, 0, 0, 64240, ws(7)), true);
  // SYN-SENT: a SYN/ACK or RST|ACK that does not ack our ISN+1, a bare RST.
  CHECK_FALSE(f.tracker.feed(segment(false, S | A, 5000, 1002, 0, 1000, ws(7)), false, 1));
  CHECK_FALSE(f.tracker.feed(segment(false, R | A, 0, 999, 0, 0), false, 2));
  CHECK_FALSE(f.tracker.feed(segment(false, R, 0, 0, 0, 0), false, 3));
  CHECK(f.tracker.local().state == TcpState::syn_sent);
  CHECK_FALSE(f.tracker.remote().isn);
  // Our kernel's RST answering the forged SYN/ACK (seq = its ack) is no close of ours.
  const auto answer = f.feed(segment(true, R, 1002, 0, 0, 0), true);
  CHECK(answer.answers_rejected);
  CHECK(f.tracker.local().state == TcpState::syn_sent);
  // The real handshake.
  CHECK(f.feed(segment(false, S | A, 9000, 1001, 0, 1000, ws(7)), false).local_state_inferred == TcpState::established);
  f.feed(segment(true, A, 1001, 9001), true);
  // Synchronized: an RST far outside the peer's sequence space, an ACK of data never sent.
  CHECK_FALSE(f.tracker.feed(segment(false, R, 9001 + 0x40000000, 0, 0, 0), false, 10));
  CHECK_FALSE(f.tracker.feed(segment(false, A, 9001, 1001 + 0x40000000), false, 11));
  // From another address to our port.
  auto other = segment(false, A, 9001, 1001);
  other.src = *IpAddress::parse("10.0.0.99");
  CHECK_FALSE(f.tracker.feed(other, false, 12));
  CHECK(f.tracker.local().state == TcpState::established);
  CHECK(f.tracker.remote().state == TcpState::established);
  const auto& r = f.tracker.rejected();
  CHECK(r[RejectReason::wrong_ack] == 3);
  CHECK(r[RejectReason::wrong_seq] == 2);
  CHECK(r[RejectReason::wrong_address] == 1);
  // Still acceptable: an RST|ACK acking a segment we sent, even one outside the window (a
  // stack may answer our out-of-window RST so; seq 0, as to a closed port).
  f.feed(segment(true, R, 1001 + 200000, 0, 0, 0), true);
  CHECK(f.tracker.feed(segment(false, R | A, 0, 1001 + 200000, 0, 0), false, 13));
  CHECK(f.tracker.rejected().total() == 6);
  // And an RST whose seq is what one of our segments acked, below the peer's ISN too: the answer
  // of a listener whose connection is gone (tcpstray's byte after its exact RST acks 1000 below
  // SND.NXT). The same seq was refused before we sent that ack.
  CHECK_FALSE(f.tracker.feed(segment(false, R, 9001 - 1000, 0, 0, 0), false, 14));
  f.feed(segment(true, A | P, 1001, 9001 - 1000, 1), true);
  CHECK(f.tracker.feed(segment(false, R, 9001 - 1000, 0, 0, 0), false, 15));
  CHECK(f.tracker.rejected().total() == 7);
  // And the peer's exact RST ends the connection.
  CHECK(f.feed(segment(false, R, 9001, 0, 0, 0), false).local_state_inferred == TcpState::close);
}

namespace {
// Our SYN (ISN 1000, TSval 111) fed; returns the peer's SYN/ACK to it (ISN 9000, TSval 500).
DecodedPacket syn_then_synack(Fed& f, TcpOptions& peer_ts) {
  TcpOptions ts = ws(7);
  ts.add_timestamps(111, 0);
  f.feed(segment(true, S, 1000, 0, 0, 64240, ts), true);
  peer_ts = ws(7);
  peer_ts.add_timestamps(500, 111);
  return segment(false, S | A, 9000, 1001, 0, 1000, peer_ts);
}

// The timestamp option of a peer's segment: its TSval, our TSval 112 echoed.
TcpOptions ts(uint32_t tsval) {
  TcpOptions o;
  o.add_nop().add_nop().add_timestamps(tsval, 112);
  return o;
}

// The handshake with timestamps on both sides, our ACK last; the option our segments carry.
// Its round trip (SYN to SYN/ACK) is 10 ms; each later segment comes 1 us after the last.
TcpOptions established_with_timestamps(Fed& f) {
  constexpr int64_t rtt_ns = 10'000'000;
  TcpOptions peer_ts;
  const auto synack = syn_then_synack(f, peer_ts);
  f.clock += rtt_ns - 1000;
  f.feed(synack, false);
  TcpOptions ours;
  ours.add_nop().add_nop().add_timestamps(112, 500);
  f.feed(segment(true, A, 1001, 9001, 0, 1000, ours), true);
  return ours;
}
}  // namespace

TEST_CASE("a network copy of a segment is marked duplicate and changes no state") {
  Fed f;
  TcpOptions peer_ts;
  const auto synack = syn_then_synack(f, peer_ts);
  CHECK_FALSE(f.feed(synack, false).duplicate);
  f.feed(segment(true, A, 1001, 9001), true);
  const auto copy = f.feed(synack, false);
  CHECK(copy.duplicate);
  CHECK_FALSE(copy.retransmission);
  // Unlike a retransmitted SYN/ACK (new TSval), a copy does not put the peer back in SYN_RECV.
  CHECK(copy.remote_state_inferred == TcpState::established);
  peer_ts.set_timestamps(600, 111);
  const auto again = f.feed(segment(false, S | A, 9000, 1001, 0, 1000, peer_ts), false);
  CHECK(again.retransmission);
  CHECK_FALSE(again.duplicate);
}

TEST_CASE("a duplicate ACK that adds a D-SACK block is the peer's own, not a network copy") {
  // Our data duplicated on the way: the peer ACKs it, then ACKs the copy with a D-SACK block
  // and the same timestamp (within its clock tick). That second ACK was shown as "an identical copy".
  Fed f;
  const TcpOptions our_ack = established_with_timestamps(f);
  f.feed(segment(true, A | P, 1001, 9001, 6, 1000, our_ack), true);
  TcpOptions ack_ts;
  ack_ts.add_nop().add_nop().add_timestamps(501, 112);
  CHECK_FALSE(f.feed(segment(false, A, 9001, 1007, 0, 1000, ack_ts), false).duplicate);
  TcpOptions dsack = ack_ts;
  const std::pair<uint32_t, uint32_t> block{1001, 1007};
  dsack.add_nop().add_nop().add_sack(std::span(&block, 1));
  const auto own = f.feed(segment(false, A, 9001, 1007, 0, 1000, dsack), false);
  CHECK_FALSE(own.duplicate);
  CHECK(own.duplicate_ack);
}

TEST_CASE("segments we inject echo timestamps only when both SYNs negotiated them") {
  auto run = [](TcpOptions ours, TcpOptions theirs) {
    ConnectionTracker t(tuple());
    t.feed(segment(true, S, 100, 0, 0, 64240, ours), true, 1);
    t.feed(segment(false, S | A, 500, 101, 0, 65160, theirs), false, 2);
    t.feed(segment(true, A, 101, 501, 0, 502, timestamp_echo(1001, 7001)), true, 3);
    t.feed(segment(false, P | A, 501, 101, 10, 509, timestamp_echo(7005, 1001)), false, 4);
    t.feed(segment(true, A, 101, 511, 0, 502, timestamp_echo(1009, 7005)), true, 5);
    return t.timestamp_echo_for_remote();
  };
  // Our kernel's latest TSval (1009: the peer's TS.Recent is at most that) and the peer's latest.
  const auto echo = run(linux_layout(1460, 1000), linux_layout(1460, 7000));
  REQUIRE(echo);
  CHECK(echo->timestamps() == std::make_pair(1009u, 7005u));
  CHECK(echo->to_string() == "nop,nop,TS val 1009 ecr 7005");
  // One SYN without the option: not negotiated, nothing to echo (RFC 7323 §3.2).
  TcpOptions no_ts;
  no_ts.add_mss(1460).add_nop().add_nop().add_sack_permitted().add_nop().add_window_scale(7);
  CHECK_FALSE(run(linux_layout(1460, 1000), no_ts));
  CHECK_FALSE(run(no_ts, linux_layout(1460, 7000)));
}

TEST_CASE("a FIN ahead of missing data waits: the receiver closes when the data has come") {
  // Seen at 25 % loss: the peer's FIN overtook its last data; our side was drawn CLOSE_WAIT on
  // the FIN's line, then ESTABLISHED again (the kernel's reading on the next line).
  Fed f;
  f.feed(segment(true, S, 1000, 0), true);
  f.feed(segment(false, S | A, 5000, 1001), false);
  f.feed(segment(true, A, 1001, 5001), true);
  auto fin = f.feed(segment(false, F | A, 5101, 1001), false);  // 5001..5100 still missing
  CHECK(fin.after_gap);
  CHECK(fin.local_state_inferred == TcpState::established);
  CHECK(fin.remote_state_inferred == TcpState::fin_wait1);  // the sender's own state moves at once
  f.feed(segment(true, A, 1001, 5001), true);  // our duplicate ACK: still ESTABLISHED
  CHECK(f.tracker.local().state == TcpState::established);
  auto data = f.feed(segment(false, P | A, 5001, 1001, 100), false);  // the gap fills
  CHECK(data.local_state_inferred == TcpState::close_wait);
  // An in-order FIN closes at once, as before.
  Fed g;
  g.feed(segment(true, S, 1000, 0), true);
  g.feed(segment(false, S | A, 5000, 1001), false);
  g.feed(segment(true, A, 1001, 5001), true);
  g.feed(segment(false, P | A, 5001, 1001, 100), false);
  CHECK(g.feed(segment(false, F | A, 5101, 1001), false).local_state_inferred == TcpState::close_wait);
}

TEST_CASE("a late original overtaken on the way is out of order, not a retransmission") {
  // Found through a reordering delay line: the peer's data segment that arrived after the one
  // sent after it was labelled a retransmission (and counted as one).
  Fed f;
  const TcpOptions our_ts = established_with_timestamps(f);
  CHECK(f.feed(segment(false, P | A, 9101, 1001, 100, 1000, ts(502)), false).after_gap);  // the second, first
  const auto late = f.feed(segment(false, P | A, 9001, 1001, 100, 1000, ts(501)), false);      // then the first
  CHECK(late.out_of_order);
  CHECK_FALSE(late.retransmission);
  CHECK(f.tracker.remote().retransmissions == 0);
  // Sent again later (a newer TSval): a retransmission, whether the bytes were seen or not.
  const auto again = f.feed(segment(false, P | A, 9001, 1001, 100, 1000, ts(700)), false);
  CHECK(again.retransmission);
  CHECK_FALSE(again.out_of_order);
  f.feed(segment(false, P | A, 9301, 1001, 100, 1000, ts(701)), false);  // 9201..9300 missing
  const auto resent = f.feed(segment(false, P | A, 9201, 1001, 100, 1000, ts(900)), false);
  CHECK(resent.retransmission);  // fills the gap, but sent after the segment beyond it
  // Found the same way: the peer's FIN overtaken by its ACK of ours (sent in the same
  // millisecond: the same TSval), whose seq is past the FIN.
  Fed h;
  established_with_timestamps(h);
  h.feed(segment(true, F | A, 1001, 9001, 0, 1000, our_ts), true);
  h.feed(segment(false, A, 9002, 1002, 0, 1000, ts(600)), false);  // its ACK of our FIN, past its FIN
  const auto overtaken = h.feed(segment(false, F | A, 9001, 1002, 0, 1000, ts(600)), false);
  CHECK(overtaken.out_of_order);
  CHECK_FALSE(overtaken.retransmission);
  // Without timestamps nothing tells a late original from a retransmission: one it stays.
  Fed g;
  g.feed(segment(true, S, 1000, 0), true);
  g.feed(segment(false, S | A, 5000, 1001), false);
  g.feed(segment(true, A, 1001, 5001), true);
  g.feed(segment(false, P | A, 5101, 1001, 100), false);
  CHECK(g.feed(segment(false, P | A, 5001, 1001, 100), false).retransmission);
}

TEST_CASE("a filler sent after the pieces beyond its hole is a retransmission, whatever the newest TSval") {
  // The sender resent the lost segment after new ones of the same millisecond: its TSval is
  // no newer than theirs, but newer than the piece beyond the hole, sent before the loss was
  // known. An overtaken original was sent before that piece.
  Fed f;
  established_with_timestamps(f);  // a 10 ms round trip
  f.feed(segment(false, P | A, 9101, 1001, 100, 1000, ts(502)), false);  // 9001..9100 missing
  f.clock += 12'000'000;  // our duplicate ACKs went, new data and the resent bytes came back
  f.feed(segment(false, P | A, 9201, 1001, 100, 1000, ts(512)), false);  // new data first
  const auto resent = f.feed(segment(false, P | A, 9001, 1001, 100, 1000, ts(512)), false);
  CHECK(resent.retransmission);
  CHECK_FALSE(resent.out_of_order);
  CHECK(f.tracker.remote().retransmissions == 1);
  // With the TSval of the piece beyond it, the same segment is the original overtaken on the way.
  Fed g;
  established_with_timestamps(g);
  g.feed(segment(false, P | A, 9101, 1001, 100, 1000, ts(502)), false);
  g.clock += 2'000'000;
  const auto late = g.feed(segment(false, P | A, 9001, 1001, 100, 1000, ts(501)), false);
  CHECK(late.out_of_order);
  CHECK_FALSE(late.retransmission);
  // The hole closed: a new one dates from its own first piece.
  g.clock += 50'000'000;
  g.feed(segment(false, P | A, 9301, 1001, 100, 1000, ts(560)), false);  // 9201..9300 missing
  g.clock += 1'000'000;
  CHECK(g.feed(segment(false, P | A, 9201, 1001, 100, 1000, ts(559)), false).out_of_order);
  // The same TSval as the piece beyond the hole: one millisecond's segments, not ordered by it
  // (found on a loss-only path: a resent segment just after new data): a retransmission.
  g.feed(segment(false, P | A, 9501, 1001, 100, 1000, ts(600)), false);  // 9401..9500 missing
  const auto same_ms = g.feed(segment(false, P | A, 9401, 1001, 100, 1000, ts(600)), false);
  CHECK(same_ms.retransmission);
  CHECK_FALSE(same_ms.out_of_order);
}

TEST_CASE("two segments resent in one millisecond are both retransmissions") {
  // Found on a lossy path (nginx, 15 % loss): the sender resent two lost segments in the same
  // millisecond; the second's TSval was no newer than the first resent one's (the newest seen),
  // and it was called out of order. It is newer than the pieces that overtook it.
  Fed f;
  established_with_timestamps(f);
  f.feed(segment(false, P | A, 9101, 1001, 100, 1000, ts(500)), false);  // 9001..9100 lost
  f.feed(segment(false, P | A, 9301, 1001, 100, 1000, ts(500)), false);  // 9201..9300 lost
  f.clock += 10'000'000;
  const auto first = f.feed(segment(false, P | A, 9001, 1001, 100, 1000, ts(512)), false);
  const auto second = f.feed(segment(false, P | A, 9201, 1001, 100, 1000, ts(512)), false);
  CHECK(first.retransmission);
  CHECK(second.retransmission);
  CHECK_FALSE(second.out_of_order);
  CHECK(f.tracker.remote().retransmissions == 2);
  // Overtaken on the way instead (sent before the pieces beyond its hole): out of order.
  f.feed(segment(false, P | A, 9501, 1001, 100, 1000, ts(520)), false);  // 9401..9500 on its way
  CHECK(f.feed(segment(false, P | A, 9401, 1001, 100, 1000, ts(519)), false).out_of_order);
}

TEST_CASE("a copy keeps its IPv4 ID: a copy of an older segment is proven, a segment sent anew is none") {
  // Found through a duplicating delay line: a copy of the peer's ACK of our FIN, delayed past
  // tcpstray's crafted FIN, passed for its answer. By its IP ID it is a copy, whichever of the
  // peer's latest segments it repeats.
  Fed f;
  f.feed(segment(true, S, 1000, 0), true);
  f.feed(segment(false, S | A, 5000, 1001, 0, 1000, {}, 40000, 700), false);
  f.feed(segment(true, A, 1001, 5001), true);
  f.feed(segment(true, P | A, 1001, 5001, 10), true);
  const auto data_ack = segment(false, A, 5001, 1011, 0, 1000, {}, 40000, 701);
  f.feed(data_ack, false);
  f.feed(segment(true, F | A, 1011, 5001), true);
  const auto fin_ack = segment(false, A, 5001, 1012, 0, 1000, {}, 40000, 702);
  CHECK_FALSE(f.feed(fin_ack, false).duplicate);
  for (const auto& copied : {fin_ack, data_ack}) {  // the last, and one before it
    const auto copy = f.feed(copied, false);
    CHECK(copy.duplicate);
    CHECK(copy.copy_proven);
  }
  CHECK(f.tracker.remote().last_ack == 1012u);  // the old ACK's copy moved nothing
  // The same ACK under another ID (Linux's TIME_WAIT answers with ID 0): sent anew, no copy.
  const auto anew = f.feed(segment(false, A, 5001, 1012, 0, 1000, {}, 40000, 0), false);
  CHECK_FALSE(anew.duplicate);
  CHECK_FALSE(anew.copy_proven);
}

TEST_CASE("pieces beyond one hole are one, however many: the edge moves when the hole fills") {
  // Found by an explorer in a reordered bulk transfer: a cap of 16 separate pieces forgot the
  // rest beyond one hole, the in-order edge stuck there, and every later filler read as a peer
  // retransmission (19 of them, where the server resent 2).
  Fed f;
  established_with_timestamps(f);
  constexpr uint32_t kMss = 100;
  // 9001..9100 is held back on the way; 40 segments beyond it come first, two a millisecond.
  for (uint32_t i = 1; i <= 40; ++i) f.feed(segment(false, P | A, 9001 + i * kMss, 1001, kMss, 1000, ts(502 + i / 2)), false);
  const auto late = f.feed(segment(false, P | A, 9001, 1001, kMss, 1000, ts(501)), false);
  CHECK(late.out_of_order);
  CHECK_FALSE(late.retransmission);
  // All of it is in order now: the next segment is new data, the one after a second hole is
  // after a gap, and that hole's late original is out of order again.
  const auto next = f.feed(segment(false, P | A, 9001 + 41 * kMss, 1001, kMss, 1000, ts(530)), false);
  CHECK_FALSE(next.retransmission);
  CHECK_FALSE(next.after_gap);
  f.feed(segment(false, P | A, 9001 + 43 * kMss, 1001, kMss, 1000, ts(532)), false);
  const auto second = f.feed(segment(false, P | A, 9001 + 42 * kMss, 1001, kMss, 1000, ts(531)), false);
  CHECK(second.out_of_order);
  CHECK(f.tracker.remote().retransmissions == 0);
  CHECK(f.tracker.remote().held.empty());
}

TEST_CASE("more separate holes than pieces kept: the nearest piece takes the new one, no edge sticks") {
  Fed f;
  established_with_timestamps(f);
  // 30 holes, every other segment held back, each piece beyond one.
  for (uint32_t i = 0; i < 30; ++i) f.feed(segment(false, P | A, 9101 + i * 200, 1001, 100, 1000, ts(503)), false);
  CHECK(f.tracker.remote().held.size() <= 16);
  // The held-back segments come: whatever each is called, the edge reaches the end.
  for (uint32_t i = 0; i < 30; ++i) f.feed(segment(false, P | A, 9001 + i * 200, 1001, 100, 1000, ts(502)), false);
  CHECK(f.tracker.remote().held.empty());
  CHECK(f.tracker.remote().in_order_end == 9001u + 30 * 200);
  const auto next = f.feed(segment(false, P | A, 9001 + 30 * 200, 1001, 100, 1000, ts(504)), false);
  CHECK_FALSE(next.retransmission);
  CHECK_FALSE(next.after_gap);
}

TEST_CASE("an IPv4 ID that counts orders two segments of one millisecond") {
  // Found by an explorer in a reordered bulk transfer: dozens of segments share a TSval, and an
  // original overtaken by one of its own millisecond was called a retransmission. Linux counts
  // IP IDs per connection; a resent segment gets a new one.
  auto transfer = [](Fed& f, uint16_t filler_id) {
    established_with_timestamps(f);
    uint16_t id = 100;
    for (uint32_t i = 0; i < 6; ++i)  // in order, IDs counting
      f.feed(segment(false, P | A, 9001 + i * 100, 1001, 100, 1000, ts(502), 40000, id++), false);
    // 9601..9700 (ID 106) is held back; 9701.. (IDs 107, 108) come first, same millisecond.
    f.feed(segment(false, P | A, 9701, 1001, 100, 1000, ts(503), 40000, 107), false);
    f.feed(segment(false, P | A, 9801, 1001, 100, 1000, ts(503), 40000, 108), false);
    return f.feed(segment(false, P | A, 9601, 1001, 100, 1000, ts(503), 40000, filler_id), false);
  };
  Fed a;
  const auto late = transfer(a, 106);  // the original: sent before what overtook it
  CHECK(late.out_of_order);
  CHECK_FALSE(late.retransmission);
  Fed b;
  const auto resent = transfer(b, 109);  // sent again after them: a new ID
  CHECK(resent.retransmission);
  CHECK_FALSE(resent.out_of_order);
  // Resent (ID 109), then new data (ID 110) that came first: the resent one is older than the
  // newest ID, but not than the piece beyond its hole (review: read as an original).
  Fed d;
  established_with_timestamps(d);
  uint16_t id = 100;
  for (uint32_t i = 0; i < 6; ++i) d.feed(segment(false, P | A, 9001 + i * 100, 1001, 100, 1000, ts(502), 40000, id++), false);
  d.feed(segment(false, P | A, 9701, 1001, 100, 1000, ts(503), 40000, 107), false);
  d.feed(segment(false, P | A, 9801, 1001, 100, 1000, ts(503), 40000, 108), false);
  d.feed(segment(false, P | A, 9901, 1001, 100, 1000, ts(540), 40000, 110), false);
  const auto resent_late = d.feed(segment(false, P | A, 9601, 1001, 100, 1000, ts(540), 40000, 109), false);
  CHECK(resent_late.retransmission);
  CHECK_FALSE(resent_late.out_of_order);
  // Random IDs order nothing: the TSval rule decides (equal: a retransmission, as before).
  Fed c;
  established_with_timestamps(c);
  uint32_t seq = 9001;
  for (const uint16_t id : {100, 101, 102, 103, 104, 40000, 7, 23000}) {
    c.feed(segment(false, P | A, seq, 1001, 100, 1000, ts(502), 40000, id), false);
    seq += 100;
  }
  CHECK_FALSE(c.tracker.remote().ip_ids_count());
  c.feed(segment(false, P | A, seq + 100, 1001, 100, 1000, ts(503), 40000, 9), false);
  const auto filler = c.feed(segment(false, P | A, seq, 1001, 100, 1000, ts(503), 40000, 8), false);
  CHECK(filler.retransmission);
}
