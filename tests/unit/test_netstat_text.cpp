#include <catch2/catch.hpp>

#include <set>

#include "tcpkit/netstat_text.hpp"
#include "tcpkit/ss_text.hpp"
#include "tcpstate_fixtures.hpp"

using namespace tcpkit;
using namespace tcpstate_test;

TEST_CASE("real netstat -tan, -tanop and -tanope read alike") {
  std::multiset<std::string> first;
  for (const char* f : {"netstat-tan.txt", "netstat-tanop.txt", "netstat-tanope.txt"}) {
    INFO(f);
    Collect c;
    TextParseReport r;
    parse_netstat_text(fixture(f), c.sink(), r);
    CHECK(r.malformed == 0);
    CHECK(c.sockets.size() == 32);
    std::multiset<std::string> ids;
    for (const auto& s : c.sockets) ids.insert(identity(s));
    if (first.empty()) first = ids;
    CHECK(ids == first);
  }
}

TEST_CASE("netstat -tanope: program names with spaces and commas, timers, uid and inode") {
  Collect c;
  TextParseReport r;
  parse_netstat_text(fixture("netstat-tanope.txt"), c.sink(), r);
  REQUIRE(c.sockets.size() == 32);
  int odd = 0, comma = 0;
  for (const auto& s : c.sockets) {
    INFO(identity(s));
    CHECK(s.uid == 0u);
    REQUIRE(s.inode);
    if (!s.processes.empty() && s.processes[0].name == "srv (a), b c") ++odd;
    if (!s.processes.empty() && s.processes[0].name == "srv6,x") ++comma;
    if (s.state == TcpState::time_wait) {
      CHECK(s.timer == TimerKind::time_wait);
      CHECK(s.timer_ms.value_or(0) > 50000);
      CHECK(s.processes.empty());
      CHECK(s.inode == 0u);
    }
    if (s.state == TcpState::established) CHECK(s.timer == TimerKind::none);
  }
  CHECK(odd == 7);
  CHECK(comma == 5);
}

TEST_CASE("netstat agrees with ss on the same snapshot") {
  Collect a, b;
  TextParseReport ra, rb;
  parse_netstat_text(fixture("netstat-tan.txt"), a.sink(), ra);
  parse_ss_text(fixture("ss-tan.txt"), b.sink(), rb);
  std::multiset<std::string> x, y;
  for (const auto& s : a.sockets) x.insert(identity(s));
  for (const auto& s : b.sockets) y.insert(identity(s));
  CHECK(x == y);
}

TEST_CASE("hand-made netstat variants: cut IPv6 addresses and bad lines are warnings") {
  Collect c;
  TextParseReport r;
  parse_netstat_text(fixture("netstat-variants.txt"), c.sink(), r);
  REQUIRE(c.sockets.size() == 7);
  const auto& s = c.sockets;
  CHECK(s[0].processes == std::vector<ProcessRef>{{"sshd: /usr/sbin", 812, -1}});
  CHECK(s[1].processes == std::vector<ProcessRef>{{"my app, (v2)", 900, -1}});
  CHECK(s[1].timer == TimerKind::keepalive);
  CHECK(s[1].timer_ms == 7184690);
  CHECK(s[2].state == TcpState::time_wait);
  CHECK(s[2].timer_ms == 59230);
  CHECK(s[2].processes.empty());
  CHECK(s[3].retransmits == 2);
  CHECK(s[4].local.is_v6());
  CHECK(s[4].processes[0].name == "nginx: master");
  CHECK(s[5].local.to_string() == "2001:db8:1234:5678:9abc:def0:1234:5678");
  CHECK(s[5].local_port == 443);
  CHECK(s[6].state == TcpState::close_wait);
  CHECK(s[6].recv_q == 5);
  REQUIRE(r.malformed == 3);
  CHECK(r.warnings[0].line == 8);
  CHECK(r.warnings[0].message.find("use -W") != std::string::npos);
  CHECK(r.warnings[1].line == 10);
  CHECK(r.warnings[2].line == 11);
}
