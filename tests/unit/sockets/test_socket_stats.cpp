#include <catch2/catch.hpp>

#include <map>

#include "tcpkit/sockets/netstat_text.hpp"
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

TEST_CASE("filters: an IPv4 CIDR matches the IPv4-mapped addresses of a dual-stack socket, as ss's does") {
  // A v4 client of a listener on [::] is [::ffff:10.228.0.1] to sock_diag; `ss dst 10.228.0.1`
  // shows it, and --src/--dst must too (follow --dst showed nothing of a dual-stack server's).
  SocketFilter f;
  f.remote_nets = {Cidr::parse("10.228.0.1").value()};
  f.local_nets = {Cidr::parse("10.228.0.0/24").value()};
  CHECK(f.matches(sock(TcpState::established, "::ffff:10.228.0.2", 8099, "::ffff:10.228.0.1", 55814)));
  CHECK(f.matches(sock(TcpState::established, "10.228.0.2", 8099, "10.228.0.1", 55814)));
  CHECK_FALSE(f.matches(sock(TcpState::established, "::ffff:10.228.0.2", 8099, "::ffff:10.228.0.9", 55814)));
  CHECK_FALSE(f.matches(sock(TcpState::established, "::ffff:10.229.0.2", 8099, "::ffff:10.228.0.1", 55814)));
  CHECK_FALSE(f.matches(sock(TcpState::established, "fd00::2", 8099, "fd00::1", 55814)));
  f = SocketFilter{};
  f.remote_nets = {Cidr::parse("::ffff:0:0/96").value()};  // the mapped block itself still matches them
  CHECK(f.matches(sock(TcpState::established, "::ffff:10.228.0.2", 8099, "::ffff:10.228.0.1", 55814)));
  f = SocketFilter{};
  f.family = Family::v4;  // -4 is the socket's family, as ss -4: a mapped socket is IPv6
  CHECK_FALSE(f.matches(sock(TcpState::established, "::ffff:10.228.0.2", 8099, "::ffff:10.228.0.1", 55814)));
}

TEST_CASE("filters: a listener is chosen by its local side, and a wildcard one by any --src") {
  // Found: syn-flood --src <the server's address> left out the 0.0.0.0 listener its SYN_RECV
  // belonged to, and a flood read QUIET.
  SocketFilter f;
  f.states = StateSet::of(TcpState::syn_recv);
  f.remote_ports = {PortRange::parse("1-1023").value()};
  f.local_nets = {Cidr::parse("10.0.0.2/32").value()};
  f.local_ports = {PortRange::parse("7200").value()};
  CHECK(f.chooses_listener(sock(TcpState::listen, "0.0.0.0", 7200, "0.0.0.0", 0)));
  CHECK(f.chooses_listener(sock(TcpState::listen, "::", 7200, "::", 0)));  // dual-stack
  CHECK(f.chooses_listener(sock(TcpState::listen, "10.0.0.2", 7200, "0.0.0.0", 0)));
  CHECK_FALSE(f.chooses_listener(sock(TcpState::listen, "10.0.0.3", 7200, "0.0.0.0", 0)));
  CHECK_FALSE(f.chooses_listener(sock(TcpState::listen, "0.0.0.0", 7201, "0.0.0.0", 0)));  // --sport still
  SocketFilter v6_src = f;
  v6_src.local_nets = {Cidr::parse("2001:db8::1").value()};
  CHECK_FALSE(v6_src.chooses_listener(sock(TcpState::listen, "0.0.0.0", 7200, "0.0.0.0", 0)));  // the other family
  CHECK(v6_src.chooses_listener(sock(TcpState::listen, "::", 7200, "::", 0)));
  f.family = Family::v4;
  CHECK_FALSE(f.chooses_listener(sock(TcpState::listen, "::", 7200, "::", 0)));  // -4: the socket's family
  CHECK(f.listener_candidates().matches(sock(TcpState::listen, "10.0.0.3", 7200, "0.0.0.0", 0)));
}

TEST_CASE("state counts and --by groups on the real ss fixture") {
  Collect c;
  TextParseReport r;
  parse_ss_text(fixture("ss-tanp.txt"), c.sink(), r);
  StateCounts counts;
  GroupCounter by_port(GroupBy::local_port), by_remote(GroupBy::remote_port), by_process(GroupBy::process);
  for (const auto& s : c.sockets) {
    counts.add(s);
    by_port.add(s);
    by_remote.add(s);
    by_process.add(s);
  }
  CHECK(counts.total() == 32);
  CHECK(counts.get(TcpState::syn_recv) == 4);
  CHECK(counts.v6[state_index(TcpState::listen)] == 3);
  // The client ends' own ports (Linux's default range here) are one row, never one row each.
  const auto top = by_port.top(2);
  REQUIRE(top.size() == 2);
  CHECK(top[0].key == kEphemeralKey);
  CHECK(top[0].total == 14);
  CHECK(top[1].key == "8080");
  CHECK(top[1].total == 10);  // LISTEN, 3 ESTABLISHED, 2 CLOSE_WAIT and 4 SYN_RECV (server side)
  CHECK(top[1].states[state_index(TcpState::syn_recv)] == 4);
  // By remote port the server ends' clients are that row; listeners have no remote port; the
  // SYN_RECV clients' ports lie outside the range and are kept.
  std::map<std::string, uint64_t> remote;
  for (const auto& row : by_remote.top(100)) remote[row.key] = row.total;
  CHECK(remote["ephemeral"] == 8);  // 5 to 8080, 3 to 8090
  CHECK(remote["8080"] == 5);
  CHECK(remote["9"] == 3);
  CHECK(remote[std::string(kListenersKey)] == counts.get(TcpState::listen));
  CHECK(remote["20002"] == 1);
  for (const auto* g : {&by_port, &by_remote})
    for (const auto& row : g->top(100))
      if (row.key != kEphemeralKey && row.key.front() != '(') {
        const long port = std::stol(row.key);
        CHECK_FALSE((port >= TcpSysctls::kDefaultPortLow && port <= TcpSysctls::kDefaultPortHigh));
      }
  // A port range from the machine moves the line: with 20000-29999 the SYN_RECV clients' too.
  GroupCounter narrow(GroupBy::remote_port, 20000, 29999);
  for (const auto& s : c.sockets) narrow.add(s);
  std::map<std::string, uint64_t> narrowed;
  for (const auto& row : narrow.top(100)) narrowed[row.key] = row.total;
  CHECK(narrowed["ephemeral"] == 4);
  CHECK(narrowed["53884"] == 1);  // outside that range: a port of its own
  const auto procs = by_process.top(10);
  REQUIRE(!procs.empty());
  CHECK(procs[0].key == "-");  // TIME_WAIT and SYN_RECV have no owner
  CHECK(procs[0].total == 7);
}

TEST_CASE("--by process: a socket shared by several processes is one socket, under its owners together") {
  // Found: nginx's master and worker, sshd's privsep pairs: the rows summed to 33 for 29 sockets.
  CHECK(owners_key({}) == "-");
  CHECK(owners_key({{"nginx", 100}}) == "nginx[100]");
  CHECK(owners_key({{"nginx", 101}, {"nginx", 100}, {"nginx", 101}}) == "nginx[100,101]");
  CHECK(owners_key({{"sh", 9}, {"python3", 5}}) == "python3[5]+sh[9]");
  GroupCounter by_process(GroupBy::process);
  auto shared = sock(TcpState::established, "10.0.0.1", 80, "10.0.0.2", 40000);
  shared.processes = {{"nginx", 100}, {"nginx", 101}};
  by_process.add(shared);
  auto own = sock(TcpState::established, "10.0.0.1", 80, "10.0.0.2", 40001);
  own.processes = {{"nginx", 101}};
  by_process.add(own);
  uint64_t total = 0;
  for (const auto& g : by_process.top(10)) total += g.total;
  CHECK(total == 2);
  CHECK(by_process.top(10)[0].key != by_process.top(10)[1].key);
}

TEST_CASE("--by ports: a service inside the ephemeral range is told by its repeated port, as time-wait does") {
  // Found: a client leaking 6 sockets to 10.207.0.2:50052 (a gRPC-like port, inside
  // 32768-60999) keyed each of its own ports 34560... as a service, one row and one Prometheus
  // label each, and put the service under "ephemeral": the lower port was taken for the service.
  GroupCounter local(GroupBy::local_port), remote(GroupBy::remote_port);
  for (uint16_t p = 34560; p < 34572; p += 2)
    for (auto* g : {&local, &remote}) g->add(sock(TcpState::close_wait, "10.207.0.1", p, "10.207.0.2", 50052));
  std::map<std::string, uint64_t> by_local, by_remote;
  for (const auto& row : local.top(100)) by_local[row.key] = row.total;
  for (const auto& row : remote.top(100)) by_remote[row.key] = row.total;
  CHECK(by_local == std::map<std::string, uint64_t>{{"ephemeral", 6}});
  CHECK(by_remote == std::map<std::string, uint64_t>{{"50052", 6}});
  // One connection alone repeats nothing: the lower port, as before.
  GroupCounter one(GroupBy::local_port);
  one.add(sock(TcpState::established, "10.207.0.1", 34560, "10.207.0.2", 50052));
  CHECK(one.top(10).front().key == "34560");
}

TEST_CASE("reports key a named host by its name, whatever the family of netstat's line") {
  // Found: netstat -ta names both ends; nginx's IPv4 and IPv6 sockets of one name were two rows
  // (and two identical Prometheus series, which Prometheus rejects): the name's zero address
  // of each family was part of the key.
  TimeWaitAnalysis tw(TcpSysctls::kDefaultPortLow, TcpSysctls::kDefaultPortHigh);
  CloseWaitAnalysis cw(TcpSysctls::kDefaultPortLow, TcpSysctls::kDefaultPortHigh);
  for (const char* zero : {"0.0.0.0", "::"}) {
    SocketRecord l = sock(TcpState::listen, zero, 80, zero, 0);
    l.local_host = "web-1.lab";
    tw.add(l);
    cw.add(l);
    for (uint16_t p = 40000; p < 40003; ++p) {
      SocketRecord s = sock(TcpState::time_wait, zero, 80, zero, p);
      s.local_host = "web-1.lab";
      s.remote_host = "client-a.lab";
      tw.add(s);
      SocketRecord c = sock(TcpState::close_wait, zero, uint16_t(p + 100), zero, 21);
      c.local_host = "client-a.lab";
      c.remote_host = "web-1.lab";
      cw.add(c);
    }
  }
  tw.finish();
  cw.finish({});
  REQUIRE(tw.groups() == 1);
  CHECK(tw.top(5).front().time_wait == 6);
  REQUIRE(cw.top(5).size() == 1);
  CHECK(cw.top(5).front().count == 6);
}

TEST_CASE("--by peer: listeners under their own label, IPv4-mapped peers under IPv4") {
  GroupCounter by_peer(GroupBy::peer);
  by_peer.add(sock(TcpState::listen, "0.0.0.0", 22, "0.0.0.0", 0));
  by_peer.add(sock(TcpState::listen, "::", 80, "::", 0));
  by_peer.add(sock(TcpState::established, "10.240.0.2", 22, "10.240.0.1", 40000));
  by_peer.add(sock(TcpState::established, "::ffff:10.240.0.2", 80, "::ffff:10.240.0.1", 40001));
  by_peer.add(sock(TcpState::close_wait, "::ffff:10.240.0.2", 80, "::ffff:10.240.0.1", 40002));
  by_peer.add(sock(TcpState::established, "2001:db8::2", 80, "2001:db8::1", 40003));
  std::map<std::string, uint64_t> totals;
  for (const auto& row : by_peer.top(10)) totals[row.key] = row.total;
  CHECK(totals == std::map<std::string, uint64_t>{{"10.240.0.1", 3}, {"2001:db8::1", 1}, {"(listening)", 2}});
  CHECK(IpAddress::parse("::ffff:10.1.2.3")->unmapped() == *IpAddress::parse("10.1.2.3"));
  CHECK(IpAddress::parse("::1")->unmapped() == *IpAddress::parse("::1"));
  CHECK(IpAddress::parse("10.1.2.3")->unmapped() == *IpAddress::parse("10.1.2.3"));
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

TEST_CASE("with every listener known, a local port that listens on nothing is a client's") {
  // Found: an NFS client bound to reserved port 700, connected to 2049, was "server :700": both
  // ports outside the range, one connection, so the lower port decided.
  ServiceSide side(32768, 60999);
  side.add_listener(22);
  CHECK(side.role(700, 2049) == ConnectionRole::server);  // listeners not known: the lower port, as before
  side.set_listener_list(ListenerList::complete);
  CHECK(side.role(700, 2049) == ConnectionRole::client);
  CHECK(side.role(22, 700) == ConnectionRole::server);      // listens here
  CHECK(side.role(80, 40000) == ConnectionRole::server);    // the range decides before
  CHECK(side.role(48700, 40000) == ConnectionRole::client);  // both ephemeral, no listener here
  // A server that closed its listener (nginx draining), whose clients' ports lie outside our
  // range (Windows: 49152-65535): the port that repeats decides first, and a remote port in
  // IANA's dynamic range is a client's.
  CHECK(side.open(80, 62000));
  CHECK(side.role(80, 62000, ConnectionRole::server) == ConnectionRole::server);
  CHECK(side.role(80, 62000) == ConnectionRole::server);  // the lower port, as before
  // Saved text: known when it lists a listener at all (ss -tan, netstat -tan).
  ServiceSide text(32768, 60999);
  text.set_listener_list(ListenerList::complete_if_any);
  CHECK(text.role(700, 2049) == ConnectionRole::server);
  text.add_listener(22);
  CHECK(text.role(700, 2049) == ConnectionRole::client);
  // What the filter leaves of the listeners.
  SocketFilter all;
  CHECK(listener_list(all, true) == ListenerList::complete);
  CHECK(listener_list(all, false) == ListenerList::complete_if_any);
  SocketFilter sport = all;
  sport.local_ports.push_back({2049, 2049});
  CHECK(listener_list(sport, true) == ListenerList::complete);  // a port's listener goes with its connections
  SocketFilter dport = all;
  dport.remote_ports.push_back({2049, 2049});
  CHECK(listener_list(dport, true) == ListenerList::partial);  // a listener has no remote port
  SocketFilter no_listen = all;
  no_listen.states = StateSet::of(TcpState::close_wait);
  CHECK(listener_list(no_listen, true) == ListenerList::partial);
}

TEST_CASE("a service inside the ephemeral range: the port that repeats between two hosts is the service") {
  // Found with FTP-passive-like ports: 12 TIME_WAITs from this host's ports 48700.. to a service
  // on 50000 (both ephemeral, no listener here) were 12 "server" rows keyed by our own ports.
  TimeWaitAnalysis tw(32768, 60999);
  for (uint16_t p = 0; p < 12; ++p) tw.add(sock(TcpState::time_wait, "10.0.0.1", uint16_t(48700 + p), "10.0.0.2", 50000));
  tw.add(sock(TcpState::established, "10.0.0.1", 48800, "10.0.0.2", 50000));
  // The other way round on the same host: clients come to our service on 50001.
  for (uint16_t p = 0; p < 3; ++p) tw.add(sock(TcpState::time_wait, "10.0.0.1", 50001, "10.0.0.3", uint16_t(40000 + p)));
  tw.finish();
  CHECK(tw.total(ConnectionRole::client) == 12);
  CHECK(tw.total(ConnectionRole::server) == 3);
  const auto top = tw.top(5);
  REQUIRE(top.size() == 2);
  CHECK(top[0].role == ConnectionRole::client);
  CHECK(top[0].service_port == 50000);
  CHECK(top[0].time_wait == 12);
  CHECK(top[0].ports_in_use == 13);
  CHECK(top[1].role == ConnectionRole::server);
  CHECK(top[1].service_port == 50001);

  PortRepeats r;
  r.add(7, 48700, 50000);
  r.add(7, 48701, 50000);
  r.add(9, 48702, 50000);  // another pair of hosts
  CHECK(r.role(7, 48700, 50000) == ConnectionRole::client);
  CHECK(r.role(9, 48702, 50000) == std::nullopt);  // one connection tells nothing
  ServiceSide side(32768, 60999);
  CHECK(side.open(48700, 50000));
  CHECK(side.role(48700, 50000, ConnectionRole::client) == ConnectionRole::client);
  CHECK(side.role(48700, 50000) == ConnectionRole::server);  // without it: the lower port
  CHECK(side.role(40000, 443, ConnectionRole::server) == ConnectionRole::client);  // the range decides first
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
  // 78.125 %: rounded as the table's SYN_FILL column (the reason floored: 101 % beside 102 %).
  CHECK(j.reasons[0].find("100 SYN_RECV fill 78% of its backlog of 128") != std::string::npos);
  CHECK(syn_queue_fill_text(sum.listeners[0]) == "78%");
  ListenerLoad over;
  over.backlog = 128;
  over.syn_recv = 131;  // 102.3 %
  CHECK(syn_queue_fill_text(over) == "102%");
  over.syn_recv = 130;  // 101.56 %: the floor said 101
  CHECK(syn_queue_fill_text(over) == "102%");
  over.backlog = 0;
  CHECK(syn_queue_fill_text(over) == "?");
  SynFloodAnalysis quiet;
  quiet.add(l);
  quiet.add(sock(TcpState::syn_recv, "10.0.0.1", 80, "10.1.1.1", 30000));
  j = judge_syn_flood(quiet.finish(), {{"TcpExt.SyncookiesSent", 0}}, sys, 256);
  CHECK(j.verdict == SynFloodVerdict::quiet);
  j = judge_syn_flood(quiet.finish(), {{"TcpExt.SyncookiesSent", 3}}, sys, 256);
  CHECK(j.verdict == SynFloodVerdict::flood);
  j = judge_syn_flood(quiet.finish(), {{"TcpExt.ListenOverflows", 3}}, sys, 256);
  CHECK(j.verdict == SynFloodVerdict::elevated);
  // A listener of backlog 8 with 9 SYN_RECV: its SYN queue is full, below the busy count of 16
  // (found after 300 SYNs to it: QUIET, with SYN_FILL 112 %).
  SynFloodAnalysis small;
  auto l8 = sock(TcpState::listen, "0.0.0.0", 8090, "0.0.0.0", 0);
  l8.send_q = 8;
  small.add(l8);
  for (int i = 0; i < 9; ++i) small.add(sock(TcpState::syn_recv, "10.0.0.1", 8090, "10.1.1.1", uint16_t(30000 + i)));
  j = judge_syn_flood(small.finish(), {}, sys, 256);
  CHECK(j.verdict == SynFloodVerdict::elevated);
  REQUIRE(j.reasons.size() == 1);
  CHECK(j.reasons[0] == "port 8090: SYN queue full (9 SYN_RECV, backlog 8): new SYNs get cookies or are dropped");
  // The same 100 SYN_RECV from netstat text, whose listeners show no backlog: ELEVATED where ss
  // text of the same moment said FLOOD (100 of 128), and nothing said why.
  SynFloodAnalysis netstat;
  netstat.add(sock(TcpState::listen, "0.0.0.0", 80, "0.0.0.0", 0));
  for (int i = 0; i < 100; ++i) netstat.add(sock(TcpState::syn_recv, "10.0.0.1", 80, "10.1.1.1", uint16_t(20000 + i)));
  j = judge_syn_flood(netstat.finish(), {}, sys, 256);
  CHECK(j.verdict == SynFloodVerdict::elevated);
  REQUIRE(j.reasons.size() == 1);
  CHECK(j.reasons[0].find("its backlog is not known: /proc/net/tcp and netstat give none") != std::string::npos);
  // SO_REUSEPORT: two listeners of one port are one load (their rows and series were twins), and
  // a queue is full past its backlog, not at it (seen: Recv-Q 4 of Send-Q 3).
  SynFloodAnalysis reuse;
  for (uint32_t waiting : {3u, 4u}) {
    auto r = sock(TcpState::listen, "0.0.0.0", 8082, "0.0.0.0", 0);
    r.recv_q = waiting;
    r.send_q = 3;
    reuse.add(r);
  }
  const auto merged = reuse.finish();
  REQUIRE(merged.listeners.size() == 1);
  CHECK(merged.listeners[0].sockets == 2);
  CHECK(merged.listeners[0].accept_queue == 7);
  CHECK(merged.listeners[0].backlog == 6);
  CHECK(merged.listeners[0].full_accept_queues == 1);
  j = judge_syn_flood(merged, {}, sys, 256);
  REQUIRE(j.reasons.size() == 1);
  CHECK(j.reasons[0] == "port 8082: accept queue full (7 waiting, backlog 6, 1 of its 2 SO_REUSEPORT sockets full): the "
                        "application does not accept() fast enough");
  SynFloodAnalysis at_backlog;
  auto three = sock(TcpState::listen, "0.0.0.0", 8085, "0.0.0.0", 0);
  three.recv_q = 3;
  three.send_q = 3;
  at_backlog.add(three);
  CHECK(judge_syn_flood(at_backlog.finish(), {}, sys, 256).verdict == SynFloodVerdict::quiet);
}

TEST_CASE("tcp_syncookies 2: every SYN gets a cookie, so only cookies that never came back count") {
  SynFloodAnalysis quiet;
  TcpSysctls always;
  always.syncookies = 2;
  // 30 ordinary handshakes: the kernel counts a cookie for each, queue full or not.
  auto j = judge_syn_flood(quiet.finish(),
                           {{"TcpExt.SyncookiesSent", 30}, {"TcpExt.SyncookiesRecv", 30}, {"TcpExt.TCPReqQFullDoCookies", 30}},
                           always, 256);
  CHECK(j.verdict == SynFloodVerdict::quiet);
  REQUIRE(j.reasons.size() == 1);
  CHECK(j.reasons[0] ==
        "0 SYN_RECV; tcp_syncookies 2 answers every SYN with a cookie: 30 sent, 30 came back, and no queue drops during "
        "the interval");
  // The same counters with tcp_syncookies 1 mean that a SYN queue was full.
  TcpSysctls when_full;
  when_full.syncookies = 1;
  CHECK(judge_syn_flood(quiet.finish(), {{"TcpExt.SyncookiesSent", 30}, {"TcpExt.SyncookiesRecv", 30}}, when_full, 256)
            .verdict == SynFloodVerdict::flood);
  // Cookies that never came back stand for SYN_RECV: elevated from 16, flood at the threshold.
  j = judge_syn_flood(quiet.finish(), {{"TcpExt.SyncookiesSent", 45}, {"TcpExt.SyncookiesRecv", 30}}, always, 256);
  CHECK(j.verdict == SynFloodVerdict::quiet);
  j = judge_syn_flood(quiet.finish(), {{"TcpExt.SyncookiesSent", 46}, {"TcpExt.SyncookiesRecv", 30}}, always, 256);
  CHECK(j.verdict == SynFloodVerdict::elevated);
  CHECK(j.reasons == std::vector<std::string>{
                         "16 of 46 SYN cookies never came back (half-open handshakes, or in flight at the interval's end)"});
  j = judge_syn_flood(quiet.finish(), {{"TcpExt.SyncookiesSent", 300}, {"TcpExt.TCPReqQFullDoCookies", 300}}, always,
                      256);
  CHECK(j.verdict == SynFloodVerdict::flood);
  CHECK(j.reasons == std::vector<std::string>{
                         "300 of 300 SYN cookies never came back (half-open handshakes), at or above the threshold of 256"});
  // Over --interval 5s, a second's worth: 300 in 5 s is 60 a second, elevated, not the flood
  // that 300 in 1 s is; 80 in 5 s (16 a second) what 16 in 1 s is. Shorter intervals count as 1 s.
  j = judge_syn_flood(quiet.finish(), {{"TcpExt.SyncookiesSent", 300}}, always, 256, std::chrono::seconds(5));
  CHECK(j.verdict == SynFloodVerdict::elevated);
  CHECK(j.reasons == std::vector<std::string>{"300 of 300 SYN cookies never came back in 5.0 s (60 a second) "
                                              "(half-open handshakes, or in flight at the interval's end)"});
  CHECK(judge_syn_flood(quiet.finish(), {{"TcpExt.SyncookiesSent", 79}}, always, 256, std::chrono::seconds(5)).verdict ==
        SynFloodVerdict::quiet);
  CHECK(judge_syn_flood(quiet.finish(), {{"TcpExt.SyncookiesSent", 80}}, always, 256, std::chrono::seconds(5)).verdict ==
        SynFloodVerdict::elevated);
  j = judge_syn_flood(quiet.finish(), {{"TcpExt.SyncookiesSent", 1300}}, always, 256, std::chrono::seconds(5));
  CHECK(j.verdict == SynFloodVerdict::flood);
  CHECK(j.reasons[0].find("(260 a second) (half-open handshakes), at or above the threshold of 256 a second") !=
        std::string::npos);
  CHECK(judge_syn_flood(quiet.finish(), {{"TcpExt.SyncookiesSent", 16}}, always, 256, std::chrono::milliseconds(250))
            .verdict == SynFloodVerdict::elevated);
  // More back than sent (cookies of the interval before): none open.
  CHECK(judge_syn_flood(quiet.finish(), {{"TcpExt.SyncookiesSent", 5}, {"TcpExt.SyncookiesRecv", 9}}, always, 256).verdict ==
        SynFloodVerdict::quiet);
}

TEST_CASE("SYN_RECV on a dual-stack listener: IPv4-mapped sources are their IPv4 address, in its /24") {
  // A v4 client of a listener on [::] (v6only off) is [::ffff:a.b.c.d] in sock_diag, as ss shows it.
  SynFloodAnalysis a;
  a.add(sock(TcpState::listen, "::", 8090, "::", 0));
  a.add(sock(TcpState::listen, "10.0.0.1", 80, "0.0.0.0", 0));
  for (int net = 0; net < 3; ++net)
    for (int host = 1; host <= 4; ++host) {
      const std::string v4 = "10.77." + std::to_string(net) + "." + std::to_string(host);
      a.add(sock(TcpState::syn_recv, "::ffff:10.0.0.1", 8090, ("::ffff:" + v4).c_str(), uint16_t(20000 + host)));
      a.add(sock(TcpState::syn_recv, "10.0.0.1", 80, v4.c_str(), uint16_t(20000 + host)));
    }
  const auto sum = a.finish();
  CHECK(sum.syn_recv == 24);
  CHECK(sum.sources == 12);   // each address once, in either form
  CHECK(sum.prefixes == 3);   // 10.77.0-2.0/24, not one all-zero /64
  CHECK(sum.top_source == "10.77.0.1");
  REQUIRE(sum.listeners.size() == 2);
  for (const auto& l : sum.listeners) {
    CHECK(l.syn_recv == 12);
    CHECK(l.sources == 12);
    CHECK(l.prefixes == 3);
  }
}

TEST_CASE("an IPv4-mapped pair is the IPv4 pair: one TIME_WAIT row, one count of ports in use") {
  // Found in the lab: 10 IPv4 and 10 dual-stack (::ffff:) sockets to one service, 5 + 5 in
  // TIME_WAIT, gave two rows of 5 TIME_WAIT and 15 ports in use each; they share one port space.
  TimeWaitAnalysis tw(32768, 60999);
  for (uint16_t p = 0; p < 15; ++p) {
    const TcpState st = p < 5 ? TcpState::time_wait : TcpState::established;
    tw.add(sock(st, "10.0.0.1", uint16_t(40000 + p), "10.0.0.2", 8080));
    tw.add(sock(st, "::ffff:10.0.0.1", uint16_t(41000 + p), "::ffff:10.0.0.2", 8080));
  }
  tw.finish();
  const auto top = tw.top(5);
  REQUIRE(top.size() == 1);
  CHECK(top[0].role == ConnectionRole::client);
  CHECK(top[0].remote.to_string() == "10.0.0.2");
  CHECK(top[0].time_wait == 10);
  CHECK(top[0].ports_in_use == 30);
  // A dual-stack server's mapped clients and its IPv4 listener's are the same client.
  TimeWaitAnalysis server(32768, 60999);
  server.add(sock(TcpState::listen, "0.0.0.0", 80, "0.0.0.0", 0));
  server.add(sock(TcpState::time_wait, "10.0.0.2", 80, "10.0.0.9", 40000));
  server.add(sock(TcpState::time_wait, "::ffff:10.0.0.2", 80, "::ffff:10.0.0.9", 40001));
  server.finish();
  REQUIRE(server.top(5).size() == 1);
  CHECK(server.top(5)[0].time_wait == 2);
  // CLOSE_WAIT, as a client: one row per service, mapped or not.
  CloseWaitAnalysis cw(32768, 60999);
  cw.add(sock(TcpState::close_wait, "10.0.0.1", 50000, "10.0.0.3", 443));
  cw.add(sock(TcpState::close_wait, "::ffff:10.0.0.1", 50001, "::ffff:10.0.0.3", 443));
  cw.finish();
  REQUIRE(cw.top(5).size() == 1);
  CHECK(cw.top(5)[0].count == 2);
  CHECK(cw.top(5)[0].remote.to_string() == "10.0.0.3");
}

TEST_CASE("a CLOSE_WAIT socket shared by several processes names each of them, in pid order") {
  // Found: only the first holder was named, though each must close it before the kernel can.
  CloseWaitAnalysis a(32768, 60999);
  auto s = sock(TcpState::close_wait, "10.0.0.1", 8080, "10.0.0.2", 40000);
  s.processes = {{"worker", 77, 5}, {"master", 12, 5}, {"worker", 77, 9}};  // one process, two fds
  a.add(s);
  s.remote_port = 40001;
  s.processes = {{"master", 12, 6}, {"worker", 77, 6}};  // the same holders, the other order
  a.add(s);
  s.remote_port = 40002;
  s.processes = {{"master", 12, 7}};  // the master alone: a row of its own
  a.add(s);
  a.add(sock(TcpState::listen, "0.0.0.0", 8080, "0.0.0.0", 0));
  a.finish();
  const auto rows = a.top(5);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].process == "master");
  CHECK(rows[0].pid == 12);
  CHECK(rows[0].count == 2);
  REQUIRE(rows[0].shared_with.size() == 1);
  CHECK(rows[0].shared_with[0].name == "worker");
  CHECK(rows[0].shared_with[0].pid == 77);
  CHECK(rows[1].count == 1);
  CHECK(rows[1].shared_with.empty());
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

namespace {
// A socket as saved text without -n gives it: a name where the host was, the address unspecified.
SocketRecord named(TcpState st, const char* local_host, uint16_t lport, const char* remote_host, uint16_t rport) {
  SocketRecord s = sock(st, "0.0.0.0", lport, "0.0.0.0", rport);
  s.local_host = local_host;
  s.remote_host = remote_host;
  return s;
}

// The lines of a fixture holding every one of the words: counted apart from the parser.
size_t lines_with(const std::string& text, std::initializer_list<const char*> words) {
  size_t n = 0;
  for_each_line(text, [&](size_t, std::string_view line) {
    bool all = true;
    for (const char* w : words) all = all && line.find(w) != std::string_view::npos;
    n += all;
    return true;
  });
  return n;
}
}  // namespace

TEST_CASE("TIME_WAIT groups named hosts by their names, apart from addresses") {
  TimeWaitAnalysis tw(32768, 60999);
  for (uint16_t p = 0; p < 3; ++p) tw.add(named(TcpState::time_wait, "web-1", uint16_t(40000 + p), "db.example", 5432));
  for (uint16_t p = 0; p < 2; ++p) tw.add(named(TcpState::time_wait, "web-1", uint16_t(41000 + p), "db2.example", 5432));
  tw.add(sock(TcpState::time_wait, "0.0.0.0", 42000, "0.0.0.0", 5432));  // a real all-zero address stays apart
  tw.add(named(TcpState::established, "web-1", 43000, "db.example", 5432));  // a port in use towards db.example
  // A server's client named: per client name and service port.
  for (uint16_t p = 0; p < 4; ++p) tw.add(named(TcpState::time_wait, "web-1", 80, "client-a", uint16_t(50000 + p)));
  tw.add(sock(TcpState::listen, "0.0.0.0", 80, "0.0.0.0", 0));
  tw.finish();
  CHECK(tw.total() == 10);
  REQUIRE(tw.groups() == 4);
  const auto top = tw.top(10);
  CHECK(top[0].role == ConnectionRole::server);
  CHECK(top[0].remote_host == "client-a");
  CHECK(top[0].local_host == "web-1");
  CHECK(top[0].service_port == 80);
  CHECK(top[0].time_wait == 4);
  CHECK(top[1].remote_host == "db.example");
  CHECK(top[1].time_wait == 3);
  CHECK(top[1].ports_in_use == 4);  // 3 TIME_WAIT and the open one, towards the name only
  CHECK(top[2].remote_host == "db2.example");
  CHECK(top[2].time_wait == 2);
  CHECK(top[2].ports_in_use == 2);
  CHECK(top[3].remote_host.empty());
  CHECK(top[3].local_host.empty());
  CHECK(top[3].time_wait == 1);
  CHECK(top[3].ports_in_use == 1);
}

TEST_CASE("TIME_WAIT from real ss -r and netstat text without -n: one group per named destination") {
  for (const char* name : {"named-ss-tar.txt", "named-netstat-ta.txt"}) {
    INFO(name);
    const std::string text = fixture(name);
    Collect c;
    TextParseReport r;
    if (std::string(name).find("netstat") != std::string::npos) parse_netstat_text(text, c.sink(), r);
    else parse_ss_text(text, c.sink(), r);
    REQUIRE(r.malformed == 0);
    TimeWaitAnalysis tw(32768, 60999);
    for (const auto& s : c.sockets) tw.add(s);
    tw.finish();
    // ss prints TIME-WAIT first, netstat TIME_WAIT last; ss -r keeps long names, netstat cuts them.
    const size_t http = lines_with(text, {"TIME", "WAIT", "web-1.lab.example:http"});
    const size_t pg = lines_with(text, {"TIME", "WAIT", ":postgresql"});
    REQUIRE(http > 0);
    REQUIRE(pg > 0);
    CHECK(tw.total() == http + pg);
    REQUIRE(tw.groups() == 2);
    const auto top = tw.top(10);
    for (const auto& g : top) {
      CHECK(g.role == ConnectionRole::client);
      CHECK(g.local_host == "web-1.lab.example");
      CHECK_FALSE(g.remote_host.empty());
    }
    CHECK(top[0].remote_host == "web-1.lab.example");
    CHECK(top[0].service_port == 80);
    CHECK(top[0].time_wait == http);
    CHECK(top[1].remote_host.rfind("a-client-hos", 0) == 0);
    CHECK(top[1].service_port == 5432);
    CHECK(top[1].time_wait == pg);
  }
}

TEST_CASE("SYN_RECV with host names: named listeners, named sources in no network") {
  SynFloodAnalysis a;
  a.add(sock(TcpState::listen, "0.0.0.0", 80, "0.0.0.0", 0));
  a.add(named(TcpState::listen, "web-1", 443, "", 0));
  for (int i = 0; i < 3; ++i) a.add(named(TcpState::syn_recv, "web-1", 443, "bot-a.example", uint16_t(20000 + i)));
  a.add(named(TcpState::syn_recv, "web-1", 443, "bot-b.example", 21000));
  a.add(named(TcpState::syn_recv, "web-1", 80, "bot-b.example", 21001));  // the wildcard listener covers a name
  a.add(sock(TcpState::syn_recv, "10.0.0.1", 80, "10.1.1.1", 30000));
  a.add(named(TcpState::syn_recv, "other", 8443, "bot-a.example", 22000));  // no listener
  const auto sum = a.finish();
  CHECK(sum.syn_recv == 7);
  CHECK(sum.unmatched == 1);
  CHECK(sum.sources == 3);
  CHECK(sum.prefixes == 1);  // 10.1.0.0/24 only: a name's network is not known
  CHECK(sum.named_sources == 6);
  CHECK(sum.top_source == "bot-a.example");
  CHECK(sum.top_source_count == 4);
  REQUIRE(sum.listeners.size() == 2);
  CHECK(sum.listeners[0].host == "web-1");
  CHECK(sum.listeners[0].port == 443);
  CHECK(sum.listeners[0].syn_recv == 4);
  CHECK(sum.listeners[0].sources == 2);
  CHECK(sum.listeners[0].prefixes == 0);
  CHECK(sum.listeners[1].host.empty());
  CHECK(sum.listeners[1].syn_recv == 2);
  CHECK(sum.listeners[1].sources == 2);
  CHECK(sum.listeners[1].prefixes == 1);
}

TEST_CASE("CLOSE_WAIT of a client: one row per named remote service") {
  CloseWaitAnalysis a(32768, 60999);
  for (int i = 0; i < 3; ++i) a.add(named(TcpState::close_wait, "web-1", uint16_t(40000 + i), "cache.example", 6379));
  for (int i = 0; i < 2; ++i) a.add(named(TcpState::close_wait, "web-1", uint16_t(41000 + i), "cache2.example", 6379));
  a.add(sock(TcpState::close_wait, "10.0.0.1", 42000, "0.0.0.0", 6379));
  a.finish();
  CHECK(a.total() == 6);
  const auto rows = a.top(10);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].remote_host == "cache.example");
  CHECK(rows[0].count == 3);
  CHECK(rows[1].remote_host == "cache2.example");
  CHECK(rows[1].count == 2);
  CHECK(rows[2].remote_host.empty());
  CHECK(rows[2].count == 1);
}

TEST_CASE("state counts keep sockets of unknown family apart from IPv4 and IPv6") {
  Collect c;
  TextParseReport r;
  parse_ss_text(fixture("named-ss-tar.txt"), c.sink(), r);
  StateCounts counts;
  for (const auto& s : c.sockets) counts.add(s);
  REQUIRE(r.unknown_family == 54);
  CHECK(counts.unknown_total() == r.unknown_family);
  CHECK(counts.unknown[state_index(TcpState::time_wait)] == 30);
  CHECK(counts.v4[state_index(TcpState::time_wait)] == 0);
  CHECK(counts.v4[state_index(TcpState::listen)] == 4);
  CHECK(counts.v6[state_index(TcpState::listen)] == 2);
  CHECK(counts.get(TcpState::time_wait) == 30);
  CHECK(counts.total() == 60);
}

TEST_CASE("syn-flood counter deltas: the judged TcpExt counters, a reset counts 0, a missing one is left out") {
  const std::map<std::string, uint64_t> before = {{"TcpExt.SyncookiesSent", 10}, {"TcpExt.ListenDrops", 50},
                                                  {"TcpExt.ListenOverflows", 7}, {"TcpExt.TCPTimeouts", 1},
                                                  {"TcpExt.TCPReqQFullDrop", 3}};
  const std::map<std::string, uint64_t> after = {{"TcpExt.SyncookiesSent", 14}, {"TcpExt.ListenDrops", 2},
                                                 {"TcpExt.ListenOverflows", 7}, {"TcpExt.TCPTimeouts", 9},
                                                 {"TcpExt.SyncookiesRecv", 5}};
  const auto d = syn_flood_counter_deltas(before, after);
  CHECK(d == std::map<std::string, uint64_t>{{"TcpExt.ListenDrops", 0}, {"TcpExt.ListenOverflows", 0},
                                             {"TcpExt.SyncookiesSent", 4}});
  // The deltas are what the judge reads.
  SynFloodAnalysis quiet;
  CHECK(judge_syn_flood(quiet.finish(), d, TcpSysctls{}, 256).verdict == SynFloodVerdict::flood);
  CHECK(counter_short_name("TcpExt.ListenDrops") == "ListenDrops");
  CHECK(counter_short_name("plain") == "plain");
}
