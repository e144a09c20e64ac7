// Two children of one handshake: the one thrown away is a twin, not a failed handshake.
#include <catch2/catch.hpp>

#include "tcpkit/sockets/twin_children.hpp"

using namespace tcpkit;

namespace {
constexpr uint64_t kUs = 1'000;

StateChange change(uint64_t socket, uint64_t time_ns, TcpState from, TcpState to, uint16_t client_port = 41000) {
  StateChange c;
  c.socket = socket;
  c.time_ns = time_ns;
  c.local = *IpAddress::parse("10.0.0.2");
  c.remote = *IpAddress::parse("10.0.0.1");
  c.local_port = 8080;
  c.remote_port = client_port;
  c.old_state = from;
  c.new_state = to;
  return c;
}
}  // namespace

TEST_CASE("twin children: the child that lost the 4-tuple to its twin is no failed handshake") {
  using S = TcpState;
  TwinChildren t;
  const uint64_t t0 = 5'000'000'000;
  // As found: loser born, winner born 26 us later, winner ESTABLISHED, loser CLOSE.
  CHECK_FALSE(t.on_change(change(1, t0, S::listen, S::syn_recv)));
  CHECK_FALSE(t.on_change(change(2, t0 + 26 * kUs, S::listen, S::syn_recv)));
  CHECK_FALSE(t.on_change(change(2, t0 + 47 * kUs, S::syn_recv, S::established)));
  CHECK(t.on_change(change(1, t0 + 56 * kUs, S::syn_recv, S::close)));
  // A child alone that closes in SYN_RECV: a failed handshake.
  CHECK_FALSE(t.on_change(change(3, t0, S::listen, S::syn_recv, 41001)));
  CHECK_FALSE(t.on_change(change(3, t0 + 90 * kUs, S::syn_recv, S::close, 41001)));
  // The 4-tuple again after its connection closed: no twin of that one.
  CHECK_FALSE(t.on_change(change(2, t0 + 300 * kUs, S::established, S::close)));
  CHECK_FALSE(t.on_change(change(4, t0 + 400 * kUs, S::listen, S::syn_recv)));
  CHECK_FALSE(t.on_change(change(4, t0 + 500 * kUs, S::syn_recv, S::close)));
}

TEST_CASE("twin children: births older than a second are forgotten") {
  using S = TcpState;
  TwinChildren t;
  const uint64_t t0 = 5'000'000'000;
  CHECK_FALSE(t.on_change(change(1, t0, S::listen, S::syn_recv)));
  CHECK_FALSE(t.on_change(change(1, t0 + 10 * kUs, S::syn_recv, S::established)));
  // Two seconds on, a new child of that 4-tuple fails: the old one is not taken for its twin.
  CHECK_FALSE(t.on_change(change(2, t0 + 2'000'000'000, S::listen, S::syn_recv)));
  CHECK_FALSE(t.on_change(change(2, t0 + 2'000'100'000, S::syn_recv, S::close)));
}
