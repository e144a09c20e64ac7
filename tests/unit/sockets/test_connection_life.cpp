// LifeTracker, classify_end, EdgeCounter and the state diagram's DOT, from changes built by hand.
#include <catch2/catch.hpp>

#include <cerrno>

#include "tcpkit/sockets/connection_life.hpp"
#include "tcpkit/sockets/state_diagram.hpp"
#include "tcpkit/sockets/state_edges.hpp"

using namespace tcpkit;
using S = TcpState;

namespace {

StateChange change(uint64_t socket, S from, S to, uint64_t t_ms, std::optional<uint64_t> in_ms, int error = 0) {
  StateChange c;
  c.socket = socket;
  c.time_ns = t_ms * 1'000'000;
  if (in_ms) c.in_old_state_ns = *in_ms * 1'000'000;
  c.local = *IpAddress::parse("10.0.0.1");
  c.remote = *IpAddress::parse("10.0.0.2");
  c.local_port = 40000;
  c.remote_port = 80;
  c.old_state = from;
  c.new_state = to;
  c.error = error;
  return c;
}

}  // namespace

TEST_CASE("life: a client's whole path, ended in TIME_WAIT") {
  LifeTracker t;
  CHECK_FALSE(t.on_change(change(1, S::close, S::syn_sent, 0, std::nullopt)));
  CHECK_FALSE(t.on_change(change(1, S::syn_sent, S::established, 1, 1)));
  CHECK_FALSE(t.on_change(change(1, S::established, S::fin_wait1, 5001, 5000)));
  CHECK_FALSE(t.on_change(change(1, S::fin_wait1, S::fin_wait2, 5002, 1)));
  CHECK(t.open() == 1);
  const auto life = t.on_change(change(1, S::fin_wait2, S::time_wait, 5043, 41));
  REQUIRE(life);
  CHECK(t.open() == 0);
  REQUIRE(life->path.size() == 5);
  CHECK(life->path[0].state == S::syn_sent);
  CHECK(life->path[0].ns == 1'000'000u);
  CHECK(life->path[1].ns == 5'000'000'000u);
  CHECK(life->path[4].state == S::time_wait);
  CHECK(life->time_wait_inferred);
  CHECK(life->end == LifeEnd::closed);
  CHECK_FALSE(life->began_before);
  CHECK_FALSE(life->gap);
}

TEST_CASE("life: a listener's child is born at LISTEN -> SYN_RECV; an older connection began before") {
  LifeTracker t;
  t.on_change(change(2, S::listen, S::syn_recv, 0, std::nullopt));
  t.on_change(change(2, S::syn_recv, S::established, 0, 0));
  const auto reset = t.on_change(change(2, S::established, S::close, 10, 10, ECONNRESET));
  REQUIRE(reset);
  CHECK(reset->path.front().state == S::syn_recv);
  CHECK_FALSE(reset->began_before);
  CHECK(reset->end == LifeEnd::reset_by_peer);
  const auto old = t.on_change(change(3, S::established, S::close, 10, std::nullopt));
  REQUIRE(old);
  CHECK(old->began_before);
  CHECK(old->path.size() == 2);
  CHECK_FALSE(old->path[0].ns);
  CHECK(old->end == LifeEnd::aborted);  // ESTABLISHED -> CLOSE with no error: our RST
}

TEST_CASE("life: a change that does not start where the last left marks a gap") {
  LifeTracker t;
  t.on_change(change(4, S::close, S::syn_sent, 0, std::nullopt));
  const auto life = t.on_change(change(4, S::fin_wait1, S::close, 9, std::nullopt));
  REQUIRE(life);
  CHECK(life->gap);
  CHECK(life->path.size() == 3);  // SYN_SENT, FIN_WAIT1, CLOSE
}

TEST_CASE("life: a new socket at the address of an open life ends that one unseen, never merged") {
  // The kernel reported 41001's FIN_WAIT1 but not its end; its memory went to the next socket.
  LifeTracker t;
  t.on_change(change(5, S::close, S::syn_sent, 0, std::nullopt));
  t.on_change(change(5, S::syn_sent, S::established, 1, 1));
  CHECK_FALSE(t.on_change(change(5, S::established, S::fin_wait1, 50, 49)));
  auto next = change(5, S::close, S::syn_sent, 120, std::nullopt);
  next.local_port = 41003;
  const auto old = t.on_change(next);
  REQUIRE(old);
  CHECK(old->local_port == 40000);
  CHECK(old->end == LifeEnd::end_not_seen);
  CHECK(life_end_key(old->end) == "end_not_seen");
  CHECK(old->gap);
  REQUIRE(old->path.size() == 4);  // SYN_SENT, ESTABLISHED, FIN_WAIT1 (time unknown), CLOSE
  CHECK(old->path[2].state == S::fin_wait1);
  CHECK_FALSE(old->path[2].ns);
  CHECK(old->path[3].state == S::close);
  CHECK(old->last_ns == 120'000'000u);
  // The new connection's life is its own, from its birth, without the old one's gap.
  CHECK(t.open() == 1);
  t.on_change(change(5, S::syn_sent, S::established, 121, 1));
  auto reset = change(5, S::established, S::close, 130, 9, ECONNRESET);
  reset.local_port = 41003;
  const auto mine = t.on_change(reset);
  REQUIRE(mine);
  CHECK(mine->local_port == 41003);
  CHECK_FALSE(mine->gap);
  CHECK(mine->path.front().state == S::syn_sent);
  CHECK(mine->first_ns == 120'000'000u);
  CHECK(mine->end == LifeEnd::reset_by_peer);
  // A listener's child born at an open life's address ends it the same way.
  t.on_change(change(6, S::established, S::close_wait, 200, std::nullopt));
  const auto child_took = t.on_change(change(6, S::listen, S::syn_recv, 210, std::nullopt));
  REQUIRE(child_took);
  CHECK(child_took->end == LifeEnd::end_not_seen);
  CHECK(t.open() == 1);
}

TEST_CASE("life: an older connection's first change to the same state is one step of unknown time") {
  LifeTracker t;
  CHECK_FALSE(t.on_change(change(7, S::fin_wait2, S::fin_wait2, 100, std::nullopt)));
  const auto life = t.on_change(change(7, S::fin_wait2, S::time_wait, 1600, std::nullopt));
  REQUIRE(life);
  REQUIRE(life->path.size() == 2);  // FIN_WAIT2 once, not twice
  CHECK(life->path[0].state == S::fin_wait2);
  CHECK_FALSE(life->path[0].ns);
  CHECK(life->began_before);
  CHECK_FALSE(life->gap);
}

TEST_CASE("life: a held CLOSE settled as TIME_WAIT takes the inferred change's times") {
  LifeTracker t;
  t.on_change(change(5, S::close, S::syn_sent, 0, std::nullopt));
  t.on_change(change(5, S::syn_sent, S::established, 1, 1));
  t.on_change(change(5, S::established, S::fin_wait2, 2, 1));
  auto life = t.on_change(change(5, S::fin_wait2, S::close, 3, 1));
  REQUIRE(life);
  CHECK(life->end == LifeEnd::closed);
  settle_close(*life, change(5, S::fin_wait2, S::time_wait, 50, 48));
  CHECK(life->path.back().state == S::time_wait);
  CHECK(life->path[life->path.size() - 2].ns == 48'000'000u);  // 1 ms to the kernel's CLOSE, 47 after it
  CHECK(life->last_ns == 50'000'000u);
  CHECK(life->time_wait_inferred);
}

TEST_CASE("life: a FIN_WAIT2 that went without a TIME_WAIT ended half-closed, not closed") {
  // Found with nginx closing an idle keepalive connection whose client never closed: the
  // FIN_WAIT2 timewait socket expired (tcp_fin_timeout), or the client's RST ended it; --life
  // said "closed", the word for FINs exchanged.
  LifeTracker t;
  t.on_change(change(6, S::close, S::syn_sent, 0, std::nullopt));
  t.on_change(change(6, S::syn_sent, S::established, 1, 1));
  t.on_change(change(6, S::established, S::fin_wait1, 2, 1));
  t.on_change(change(6, S::fin_wait1, S::fin_wait2, 3, 1));
  auto life = t.on_change(change(6, S::fin_wait2, S::close, 4, 1));
  REQUIRE(life);
  settle_close(*life, change(6, S::fin_wait2, S::close, 2100, 2097));
  CHECK(life->end == LifeEnd::half_closed);
  CHECK_FALSE(life->time_wait_inferred);
  CHECK(life_end_name(LifeEnd::half_closed) == "half-closed");
  CHECK(life_end_key(LifeEnd::half_closed) == "half_closed");
}

TEST_CASE("life: how a connection ended, from the state it left and the socket's error") {
  CHECK(classify_end(S::syn_sent, ECONNREFUSED) == LifeEnd::refused);
  CHECK(classify_end(S::syn_sent, ETIMEDOUT) == LifeEnd::timed_out);
  CHECK(classify_end(S::syn_sent, 0) == LifeEnd::aborted);
  CHECK(classify_end(S::syn_recv, 0) == LifeEnd::failed_handshake);
  CHECK(classify_end(S::close_wait, EPIPE) == LifeEnd::reset_by_peer);
  CHECK(classify_end(S::last_ack, 0) == LifeEnd::closed);
  CHECK(classify_end(S::last_ack, ETIMEDOUT) == LifeEnd::timed_out);
  CHECK(life_end_key(LifeEnd::reset_by_peer) == "reset_by_peer");
  CHECK(life_end_name(LifeEnd::failed_handshake) == "failed handshake");
}

TEST_CASE("life: an ICMP error the kernel ended the connection with is unreachable, never our abort") {
  // Seen in the lab: a SYN answered by ICMP host unreachable (EHOSTUNREACH after the retry),
  // data answered by it until tcp_retries2 gave up: no RST was sent or received.
  for (const int error : {EHOSTUNREACH, ENETUNREACH, EACCES, EHOSTDOWN, ENONET, ENOPROTOOPT, EPROTO, EMSGSIZE})
    for (const S from : {S::syn_sent, S::established, S::fin_wait1, S::close_wait, S::last_ack}) {
      CAPTURE(error, int(from));
      CHECK(classify_end(from, error) == LifeEnd::unreachable);
    }
  CHECK(life_end_key(LifeEnd::unreachable) == "unreachable");
  CHECK(life_end_name(LifeEnd::unreachable) == "unreachable");
  // The kernel's ECONNREFUSED is an RST or an ICMP port unreachable alike: refused.
  CHECK(classify_end(S::syn_sent, ECONNREFUSED) == LifeEnd::refused);
  CHECK(classify_end(S::established, 0) == LifeEnd::aborted);
}

TEST_CASE("edges: counts, medians and the anomalies named") {
  EdgeCounter e;
  e.add(S::established, S::close, 10'000'000);
  e.add(S::established, S::close, 30'000'000);
  e.add(S::established, S::close, std::nullopt);
  e.add(S::syn_sent, S::established, 1'000'000);
  const auto edges = e.edges();
  REQUIRE(edges.size() == 2);
  CHECK(edges[0].from == S::established);
  CHECK(edges[0].count == 3);
  CHECK(edges[0].median_ms == Approx(20.0));
  CHECK(e.total() == 4);
  CHECK(edge_anomaly(S::established, S::close) == "abort (RST or timeout)");
  CHECK(edge_anomaly(S::syn_recv, S::close) == "failed handshake");
  CHECK(edge_anomaly(S::fin_wait1, S::closing) == "simultaneous close");
  CHECK(edge_anomaly(S::fin_wait1, S::time_wait) == "three-segment close");
  CHECK(edge_anomaly(S::established, S::fin_wait1).empty());
}

TEST_CASE("edges: which states the diagram reaches from a state") {
  CHECK(rfc9293_reachable(S::established, S::time_wait));  // through FIN_WAIT1, FIN_WAIT2
  CHECK(rfc9293_reachable(S::syn_sent, S::last_ack));
  CHECK(rfc9293_reachable(S::last_ack, S::last_ack));
  CHECK(rfc9293_reachable(S::last_ack, S::close));
  CHECK(rfc9293_reachable(S::close_wait, S::close));       // an abort
  CHECK_FALSE(rfc9293_reachable(S::last_ack, S::fin_wait2));
  CHECK_FALSE(rfc9293_reachable(S::time_wait, S::established));
  CHECK_FALSE(rfc9293_reachable(S::fin_wait2, S::close_wait));
}

TEST_CASE("edges: the median of many is kept from a bounded sample") {
  EdgeCounter e;
  for (int i = 0; i < 100000; ++i) e.add(S::established, S::fin_wait1, uint64_t(i % 100) * 1'000'000);
  const auto edges = e.edges();
  REQUIRE(edges.size() == 1);
  CHECK(edges[0].count == 100000);
  CHECK(*edges[0].median_ms == Approx(49.5).margin(5));
}

TEST_CASE("diagram: RFC edges greyed when not taken, Linux's abort drawn when seen, the title escaped") {
  EdgeCounter e;
  e.add(S::established, S::close, 5'000'000);
  e.add(S::syn_sent, S::established, 1'000'000);
  const std::string dot = state_diagram_dot(e.edges(), "follow \"lab\"");
  CHECK(dot.find("label=\"follow \\\"lab\\\"\"") != std::string::npos);
  CHECK(dot.find("SYN_SENT -> ESTABLISHED [label=\"1\\nmedian 1.0 ms\"") != std::string::npos);
  CHECK(dot.find("ESTABLISHED -> CLOSE [label=\"1\\nmedian 5.0 ms\\nabort (RST or timeout)\", color=\"#c62828\"") != std::string::npos);
  CHECK(dot.find("FIN_WAIT1 -> CLOSING [color=\"#bbbbbb\"") != std::string::npos);
  CHECK(dot.find("ESTABLISHED -> CLOSE_WAIT [color=\"#bbbbbb\"") != std::string::npos);
}

TEST_CASE("life: a change to the same state (close() in FIN_WAIT2) is one step, timed from its entry") {
  // The BPF side keeps the state's entry time across a change to the same state: the change
  // that leaves it reports the whole stay (227 ms), not the time since close() (5 ms).
  LifeTracker t;
  t.on_change(change(6, S::close, S::syn_sent, 0, std::nullopt));
  t.on_change(change(6, S::syn_sent, S::fin_wait2, 1, 1));
  CHECK_FALSE(t.on_change(change(6, S::fin_wait2, S::fin_wait2, 223, 222)));
  const auto life = t.on_change(change(6, S::fin_wait2, S::time_wait, 228, 227));
  REQUIRE(life);
  REQUIRE(life->path.size() == 3);
  CHECK(life->path[1].state == S::fin_wait2);
  CHECK(life->path[1].ns == 227'000'000u);
  CHECK_FALSE(life->gap);
}

TEST_CASE("life: a TIME_WAIT's entry is dated by its 60 s timer, kept between the last FIN_WAIT2 look and now") {
  constexpr uint64_t kMs = 1'000'000;
  const uint64_t now = 100'000 * kMs;
  CHECK(time_wait_entered_ns(now, 59'950, now - 100 * kMs) == now - 50 * kMs);  // the FIN came 50 ms ago
  CHECK(time_wait_entered_ns(now, 60'000, now - 100 * kMs) == now);             // just now
  CHECK(time_wait_entered_ns(now, 59'000, now - 100 * kMs) == now - 100 * kMs); // not before it was seen in FIN_WAIT2
  CHECK(time_wait_entered_ns(now, 61'000, now - 100 * kMs) == now);             // a timer above 60 s: not in the future
  CHECK(time_wait_entered_ns(now, -5, now - 100 * kMs) == now - 100 * kMs);
  CHECK(time_wait_entered_ns(5 * kMs, 0, 0) == 0);                              // no wrap below 0
}
