#include <catch2/catch.hpp>

#include "tcpkit/sockets/socket_filter.hpp"
#include "tcpkit/sockets/socket_stats.hpp"
#include "tcpkit/sockets/ss_text.hpp"
#include "tcpstate_fixtures.hpp"

using namespace tcpkit;
using namespace tcpstate_test;

namespace {
SocketRecord sock(TcpState st, const char* local, uint16_t lport, const char* remote, uint16_t rport) {
  SocketRecord s;
  s.state = st;
  s.local = *IpAddress::parse(local);
  s.local_port = lport;
  s.remote = *IpAddress::parse(remote);
  s.remote_port = rport;
  return s;
}
}  // namespace

TEST_CASE("filters: states, ports, ranges, CIDR, family") {
  SocketFilter f;
  f.states = StateSet::of(TcpState::established);
  f.local_ports = {PortRange::parse("20-25").value()};
  f.remote_nets = {Cidr::parse("10.0.0.0/8").value()};
  CHECK(f.matches(sock(TcpState::established, "10.0.0.1", 22, "10.9.9.9", 5000)));
  CHECK_FALSE(f.matches(sock(TcpState::time_wait, "10.0.0.1", 22, "10.9.9.9", 5000)));
  CHECK_FALSE(f.matches(sock(TcpState::established, "10.0.0.1", 80, "10.9.9.9", 5000)));
  CHECK_FALSE(f.matches(sock(TcpState::established, "10.0.0.1", 22, "192.168.0.1", 5000)));
  f = SocketFilter{};
  f.family = Family::v6;
  CHECK_FALSE(f.matches(sock(TcpState::listen, "0.0.0.0", 22, "0.0.0.0", 0)));
  CHECK(f.matches(sock(TcpState::listen, "::", 22, "::", 0)));
  for (const char* bad : {"", "x", "70000", "20-10", "1-", "-5"}) {
    INFO(bad);
    CHECK_FALSE(PortRange::parse(bad));
  }
}

TEST_CASE("state counts and --by groups on the real ss fixture") {
  Collect c;
  TextParseReport r;
  parse_ss_text(fixture("ss-tanp.txt"), c.sink(), r);
  StateCounts counts;
  GroupCounter by_port(GroupBy::local_port), by_process(GroupBy::process);
  for (const auto& s : c.sockets) {
    counts.add(s);
    by_port.add(s);
    by_process.add(s);
  }
  CHECK(counts.total() == 32);
  CHECK(counts.get(TcpState::syn_recv) == 4);
  CHECK(counts.v6[state_index(TcpState::listen)] == 3);
  const auto top = by_port.top(1);
  REQUIRE(top.size() == 1);
  CHECK(top[0].key == "8080");
  CHECK(top[0].total == 10);  // LISTEN, 3 ESTABLISHED, 2 CLOSE_WAIT and 4 SYN_RECV (server side)
  CHECK(top[0].states[state_index(TcpState::syn_recv)] == 4);
  const auto procs = by_process.top(10);
  REQUIRE(!procs.empty());
  CHECK(procs[0].key == "-");  // TIME_WAIT and SYN_RECV have no owner
  CHECK(procs[0].total == 7);
}

TEST_CASE("TIME_WAIT as a client: per remote service, ports in use and the histogram") {
  TimeWaitAnalysis tw(32768, 60999);
  for (uint16_t p = 0; p < 30; ++p) {
    auto s = sock(TcpState::time_wait, "10.0.0.1", uint16_t(40000 + p), "10.0.0.2", 80);
    s.timer_ms = p * 2000;  // 0..58 s
    tw.add(s);
  }
  tw.add(sock(TcpState::established, "10.0.0.1", 41000, "10.0.0.2", 80));
  tw.add(sock(TcpState::established, "10.0.0.1", 1000, "10.0.0.2", 80));  // not ephemeral
  tw.add(sock(TcpState::time_wait, "10.0.0.1", 40000, "10.0.0.3", 443));
  tw.finish();
  CHECK(tw.total() == 31);
  CHECK(tw.total(ConnectionRole::client) == 31);
  CHECK(tw.groups() == 2);
  const auto top = tw.top(5);
  REQUIRE(top.size() == 2);
  CHECK(top[0].role == ConnectionRole::client);
  CHECK(top[0].remote.to_string() == "10.0.0.2");
  CHECK(top[0].service_port == 80);
  CHECK(top[0].time_wait == 30);
  CHECK(top[0].ports_in_use == 31);
  CHECK(tw.histogram()[0] == 5);
  CHECK(tw.histogram()[5] == 5);
  CHECK(tw.without_timer() == 1);
}

TEST_CASE("TIME_WAIT as a server: one row per client address and service port, not per client port") {
  TimeWaitAnalysis tw(32768, 60999);
  // The client ports first, the listener last (the IPv6 dump comes after the IPv4 one).
  for (uint16_t p = 0; p < 315; ++p) tw.add(sock(TcpState::time_wait, "10.0.0.2", 80, "10.0.0.1", uint16_t(33000 + p)));
  for (uint16_t p = 0; p < 5; ++p) tw.add(sock(TcpState::time_wait, "10.0.0.2", 80, "10.0.0.9", uint16_t(33000 + p)));
  // A service inside the ephemeral range is still a service when it listens here.
  for (uint16_t p = 0; p < 3; ++p) tw.add(sock(TcpState::time_wait, "10.0.0.2", 40000, "10.0.0.1", uint16_t(50000 + p)));
  tw.add(sock(TcpState::listen, "::", 40000, "::", 0));
  tw.finish();
  CHECK(tw.total(ConnectionRole::server) == 323);
  CHECK(tw.groups() == 3);
  const auto top = tw.top(10);
  REQUIRE(top.size() == 3);
  CHECK(top[0].role == ConnectionRole::server);
  CHECK(top[0].remote.to_string() == "10.0.0.1");
  CHECK(top[0].service_port == 80);
  CHECK(top[0].time_wait == 315);
  CHECK(top[0].ports_in_use == 0);
  CHECK(top[1].service_port == 80);
  CHECK(top[1].time_wait == 5);
  CHECK(top[2].service_port == 40000);
  CHECK(top[2].role == ConnectionRole::server);
}

TEST_CASE("The service side: a local listener, else the port outside the ephemeral range, else the lower port") {
  ServiceSide side(32768, 60999);
  side.add_listener(50000);
  CHECK(side.role(50000, 40000) == ConnectionRole::server);  // listens here, though ephemeral
  CHECK(side.role(80, 40000) == ConnectionRole::server);     // no listener left (nginx stopped)
  CHECK(side.role(40000, 443) == ConnectionRole::client);
  CHECK(side.role(50001, 50000) == ConnectionRole::client);  // both ephemeral: the lower port
  CHECK(side.role(22, 5432) == ConnectionRole::server);      // both outside: the lower port
  CHECK(side.role(5432, 22) == ConnectionRole::client);
}

TEST_CASE("SYN_RECV per listener and the flood verdict") {
  SynFloodAnalysis a;
  auto l = sock(TcpState::listen, "0.0.0.0", 80, "0.0.0.0", 0);
  l.send_q = 128;
  a.add(l);
  a.add(sock(TcpState::listen, "::", 443, "::", 0));
  for (int i = 0; i < 100; ++i) {
    const std::string src = "10.77." + std::to_string(i / 50) + "." + std::to_string(1 + i % 50);
    a.add(sock(TcpState::syn_recv, "10.0.0.1", 80, src.c_str(), uint16_t(20000 + i)));
  }
  a.add(sock(TcpState::syn_recv, "10.0.0.1", 443, "10.1.1.1", 30000));  // dual-stack listener
  a.add(sock(TcpState::syn_recv, "10.0.0.1", 9999, "10.1.1.1", 30001));
  const auto sum = a.finish();
  CHECK(sum.syn_recv == 102);
  CHECK(sum.unmatched == 1);
  REQUIRE(sum.listeners.size() == 2);
  CHECK(sum.listeners[0].port == 80);
  CHECK(sum.listeners[0].syn_recv == 100);
  CHECK(sum.listeners[0].sources == 100);
  CHECK(sum.listeners[0].prefixes == 2);
  CHECK(sum.listeners[1].syn_recv == 1);
  TcpSysctls sys;
  auto j = judge_syn_flood(sum, {}, sys, 256);
  CHECK(j.verdict == SynFloodVerdict::flood);  // 100 of 128
  SynFloodAnalysis quiet;
  quiet.add(l);
  quiet.add(sock(TcpState::syn_recv, "10.0.0.1", 80, "10.1.1.1", 30000));
  j = judge_syn_flood(quiet.finish(), {{"TcpExt.SyncookiesSent", 0}}, sys, 256);
  CHECK(j.verdict == SynFloodVerdict::quiet);
  j = judge_syn_flood(quiet.finish(), {{"TcpExt.SyncookiesSent", 3}}, sys, 256);
  CHECK(j.verdict == SynFloodVerdict::flood);
  j = judge_syn_flood(quiet.finish(), {{"TcpExt.ListenOverflows", 3}}, sys, 256);
  CHECK(j.verdict == SynFloodVerdict::elevated);
}

TEST_CASE("CLOSE_WAIT per process and service; unread data bytes leave the FIN out") {
  CloseWaitAnalysis a(32768, 60999);
  for (int i = 0; i < 3; ++i) {
    auto s = sock(TcpState::close_wait, "10.0.0.1", 8080, "10.0.0.2", uint16_t(40000 + i));
    s.processes = {{"java", 42, 10 + i}};
    s.recv_q = 5;  // 4 data bytes and the FIN
    a.add(s);
  }
  a.add(sock(TcpState::close_wait, "10.0.0.1", 9090, "10.0.0.2", 45000));
  a.add(sock(TcpState::established, "10.0.0.1", 9090, "10.0.0.2", 2001));
  // A client that leaks 35 sockets to one server: one row, not one per ephemeral port.
  for (int i = 0; i < 35; ++i) {
    auto s = sock(TcpState::close_wait, "10.0.0.1", uint16_t(50160 + i), "10.0.0.3", 443);
    s.processes = {{"python3", 15315, 3 + i}};
    s.recv_q = i < 10 ? 1 : i < 30 ? 101 : 0;  // the FIN alone; 100 bytes and the FIN; all read
    a.add(s);
  }
  a.add(sock(TcpState::listen, "0.0.0.0", 8080, "0.0.0.0", 0));
  a.finish();
  CHECK(a.total() == 39);
  const auto rows = a.top(10);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].process == "python3");
  CHECK(rows[0].role == ConnectionRole::client);
  CHECK(rows[0].remote.to_string() == "10.0.0.3");
  CHECK(rows[0].service_port == 443);
  CHECK(rows[0].count == 35);
  CHECK(rows[0].unread_bytes == 2000);
  CHECK(rows[0].eof_read == 5);
  CHECK(rows[1].process == "java");
  CHECK(rows[1].pid == 42);
  CHECK(rows[1].role == ConnectionRole::server);
  CHECK(rows[1].service_port == 8080);
  CHECK(rows[1].count == 3);
  CHECK(rows[1].unread_bytes == 12);
  CHECK(rows[2].service_port == 9090);  // no listener, but below the range
  CHECK(close_wait_unread_bytes(0) == 0);
  CHECK(close_wait_unread_bytes(1) == 0);
  CHECK(close_wait_unread_bytes(41) == 40);
}

TEST_CASE("--max thresholds") {
  CHECK(parse_threshold("time-wait=20000").value().state == TcpState::time_wait);
  CHECK(parse_threshold("SYN_RECV=500").value().max == 500);
  CHECK_FALSE(parse_threshold("total=5").value().state);
  for (const char* bad : {"time-wait", "=5", "bogus=5", "time-wait=-1", "time-wait=x", "time-wait="}) {
    INFO(bad);
    CHECK_FALSE(parse_threshold(bad));
  }
  StateCounts c;
  SocketRecord s;
  s.state = TcpState::time_wait;
  for (int i = 0; i < 5; ++i) c.add(s);
  const auto r = evaluate_thresholds({parse_threshold("time-wait=4").value(), parse_threshold("total=5").value()}, c);
  CHECK(r[0].exceeded);
  CHECK(r[0].value == 5);
  CHECK_FALSE(r[1].exceeded);
}
