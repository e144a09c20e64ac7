#include <catch2/catch.hpp>

#include <set>

#include "tcpkit/sockets/netstat_text.hpp"
#include "tcpkit/sockets/proc_net.hpp"
#include "tcpkit/sockets/ss_text.hpp"
#include "tcpkit/sockets/tcp_kernel_status.hpp"
#include "tcpstate_fixtures.hpp"

using namespace tcpkit;
using namespace tcpstate_test;

TEST_CASE("real /proc/net/tcp and tcp6 agree with ss on the same snapshot") {
  Collect c;
  TextParseReport r;
  parse_proc_net_text(fixture("proc-net-tcp.txt"), false, c.sink(), r);
  parse_proc_net_text(fixture("proc-net-tcp6.txt"), true, c.sink(), r);
  CHECK(r.malformed == 0);
  REQUIRE(c.sockets.size() == 32);
  Collect ss;
  TextParseReport rs;
  parse_ss_text(fixture("ss-tan.txt"), ss.sink(), rs);
  std::multiset<std::string> a, b;
  for (const auto& s : c.sockets) a.insert(identity(s));
  for (const auto& s : ss.sockets) b.insert(identity(s));
  CHECK(a == b);
  for (const auto& s : c.sockets) {
    INFO(identity(s));
    if (s.state == TcpState::time_wait) {
      CHECK(s.timer == TimerKind::time_wait);
      CHECK(s.timer_ms.value_or(0) > 50000);
    }
    if (s.state == TcpState::established) CHECK(s.inode.value_or(0) > 0);
  }
}

TEST_CASE("malformed /proc lines are warnings; negative timers clamp to zero") {
  Collect c;
  TextParseReport r;
  parse_proc_net_text(fixture("proc-net-tcp-malformed.txt"), false, c.sink(), r, 100);
  REQUIRE(c.sockets.size() == 3);
  CHECK(r.malformed == 3);
  CHECK(c.sockets[0].local.to_string() == "127.0.0.1");
  CHECK(c.sockets[0].local_port == 22);
  CHECK(c.sockets[0].state == TcpState::listen);
  CHECK(c.sockets[0].inode == 1000u);
  CHECK(c.sockets[1].state == TcpState::time_wait);
  CHECK(c.sockets[1].timer_ms == 60000);
  CHECK(c.sockets[1].remote.to_string() == "127.0.0.2");
  CHECK(c.sockets[1].remote_port == 54321);
  CHECK(c.sockets[2].timer == TimerKind::keepalive);
  CHECK(c.sockets[2].timer_ms == 0);
  CHECK(c.sockets[2].uid == 1000u);
  CHECK(c.sockets[2].send_q == 0);
}

TEST_CASE("every truncation of a /proc line is rejected or read, never overread") {
  const std::string line = "   5: 0100007F:0050 0200007F:D432 01 00000000:00000000 02:FFFFFFF6 00000000  1000        0 1003 1 0";
  for (size_t n = 0; n <= line.size(); ++n) {
    const std::string cut = line.substr(0, n);  // its own allocation: ASan sees any overread
    (void)parse_proc_net_line(cut, false);
  }
  CHECK(parse_proc_net_line(line, false));
}

TEST_CASE("/proc/net/netstat counters parse by section and name") {
  const auto m = parse_proc_counters(
      "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 5 7 9\nIpExt: InNoRoutes\nIpExt: 3\nBad: 1 2\n");
  CHECK(m.at("TcpExt.SyncookiesSent") == 5);
  CHECK(m.at("TcpExt.ListenDrops") == 9);
  CHECK(m.at("IpExt.InNoRoutes") == 3);
  CHECK(m.size() == 4);
}

TEST_CASE("/proc/net/sockstat's TCP line: the host's sockets and the namespace's TIME_WAIT") {
  const auto t = parse_sockstat_tcp(
      "sockets: used 142\nTCP: inuse 120002 orphan 3 tw 19080 alloc 120410 mem 5291\nUDP: inuse 0 mem 0\n");
  REQUIRE(t);
  CHECK(t->inuse == 120002);
  CHECK(t->orphan == 3);
  CHECK(t->time_wait == 19080);
  CHECK(t->allocated == 120410);
  // Missing, cut short or not numbers: nothing rather than a guess.
  CHECK_FALSE(parse_sockstat_tcp("sockets: used 1\nUDP: inuse 0 mem 0\n"));
  CHECK_FALSE(parse_sockstat_tcp("TCP: inuse 1 orphan 0 tw 0\n"));
  CHECK_FALSE(parse_sockstat_tcp("TCP: inuse 1 orphan 0 tw x alloc 1 mem 1\n"));
  CHECK_FALSE(parse_sockstat_tcp("TCP: inuse 1 orphan 0 tw 0 alloc\n"));
  CHECK_FALSE(parse_sockstat_tcp(""));
}

TEST_CASE("a zero-window probe or keepalive timer counts the probes sent, as sock_diag and ss do") {
  // /proc/net/tcp: "retrnsmt" is icsk_retransmits, "timeout" icsk_probes_out; ss and sock_diag
  // show the probes for these two timers. The line is a FIN_WAIT1 socket probing a zero window.
  const auto probe = parse_proc_net_line(
      "   7: 0100CD0A:B01E 0200CD0A:1F9A 04 00000001:00000000 04:000000EE 00000000     0        4 0 2 0", false, 100);
  REQUIRE(probe);
  CHECK(probe->timer == TimerKind::zero_window_probe);
  CHECK(probe->retransmits == 4);
  const auto keepalive = parse_proc_net_line(
      "   8: 0100CD0A:B01E 0200CD0A:1F9A 01 00000000:00000000 02:000000EE 00000000     0        3 77 1 0", false, 100);
  REQUIRE(keepalive);
  CHECK(keepalive->retransmits == 3);
  const auto retransmit = parse_proc_net_line(
      "   9: 0100CD0A:B01E 0200CD0A:1F9A 01 00000010:00000000 01:000000EE 00000002     0        0 78 1 0", false, 100);
  REQUIRE(retransmit);
  CHECK(retransmit->retransmits == 2);

  // netstat -o prints both as "(seconds/retransmits/probes)"; lines from net-tools in the lab.
  Collect c;
  TextParseReport r;
  parse_netstat_text("Proto Recv-Q Send-Q Local Address           Foreign Address         State       Timer\n"
                     "tcp        0      1 10.205.0.1:45086        10.205.0.2:8090         FIN_WAIT1   probe (2.38/0/4)\n"
                     "tcp        0     16 10.205.0.1:45087        10.205.0.2:8090         ESTABLISHED on (0.20/2/0)\n",
                     c.sink(), r);
  REQUIRE(c.sockets.size() == 2);
  CHECK(c.sockets[0].timer == TimerKind::zero_window_probe);
  CHECK(c.sockets[0].retransmits == 4);
  CHECK(c.sockets[1].retransmits == 2);
}
