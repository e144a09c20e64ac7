#include <catch2/catch.hpp>

#include <algorithm>

#include <set>

#include "tcpkit/sockets/netstat_text.hpp"
#include "tcpkit/sockets/ss_text.hpp"
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
  // Line 8's "2001:db8:1234:5678:9:443" is an IPv6 address netstat cut: kept, as a cut name.
  REQUIRE(c.sockets.size() == 8);
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
  CHECK(s[5].local_host == "2001:db8:1234:5678:9");
  CHECK(s[5].local.is_v6());
  CHECK(s[5].local_port == 443);
  CHECK(s[6].local.to_string() == "2001:db8:1234:5678:9abc:def0:1234:5678");
  CHECK(s[6].local_port == 443);
  CHECK(s[7].state == TcpState::close_wait);
  CHECK(s[7].recv_q == 5);
  CHECK(r.cut_endpoints.sockets == 1);
  REQUIRE(r.malformed == 2);
  CHECK(r.warnings[0].line == 10);
  CHECK(r.warnings[1].line == 11);
}

TEST_CASE("netstat without -n: names, the family from Proto, cut hosts") {
  Collect c;
  TextParseReport r;
  parse_netstat_text(fixture("named-netstat-ta.txt"), c.sink(), r);
  CHECK(r.malformed == 0);
  REQUIRE(c.sockets.size() == 60);
  size_t v6_est = 0, mapped = 0, http = 0;
  for (const auto& s : c.sockets) {
    if (s.state == TcpState::established && s.family() == Family::v6) ++v6_est;
    if (s.remote.to_string() == "::ffff:10.240.0.2") ++mapped;
    if (s.remote_port == 80) ++http;
    CHECK(s.family_known);
  }
  CHECK(v6_est == 9);  // as the kernel counts them: tcp6 lines with IPv4-mapped peers are IPv6
  CHECK(mapped == 4);
  CHECK(http == 20);
  // A name that fills the 23 columns may have been cut ("a-client-host-wit"), or not
  // ("web-1.lab.example:57382"): one line cannot tell, so all 44 are counted as perhaps cut.
  CHECK(r.cut_endpoints.sockets == 44);
  CHECK(std::find(r.cut_endpoints.examples.begin(), r.cut_endpoints.examples.end(), "a-client-host-wit") !=
        r.cut_endpoints.examples.end());
  CHECK(r.unknown_services.sockets == 0);
}

TEST_CASE("busybox netstat prints tcp for IPv6 too: its addresses say so") {
  Collect c;
  TextParseReport r;
  parse_netstat_text(fixture("named-busybox-netstat-ta.txt"), c.sink(), r);
  CHECK(r.malformed == 0);
  REQUIRE(c.sockets.size() == 60);
  size_t v6 = 0;
  for (const auto& s : c.sockets) v6 += s.family() == Family::v6;
  CHECK(v6 == 11);
}

namespace {
// Identities of every socket a parser reads from a fixture; the report goes to r.
std::multiset<std::string> identities(const std::string& name, bool netstat, TextParseReport& r) {
  Collect c;
  if (netstat) parse_netstat_text(fixture(name), c.sink(), r);
  else parse_ss_text(fixture(name), c.sink(), r);
  std::multiset<std::string> ids;
  for (const auto& s : c.sockets) ids.insert(identity(s));
  return ids;
}
}  // namespace

TEST_CASE("busybox netstat -tan: IPv4-mapped peers that fill or overflow 23 columns are addresses") {
  // One snapshot saved by busybox netstat, net-tools netstat and ss (make_dualstack_fixtures.sh):
  // busybox prints ::ffff:10.200.0.1:37538 (23 columns) and longer, whole.
  TextParseReport rb, rn, rs;
  const auto busybox = identities("dualstack-busybox-netstat-tan.txt", true, rb);
  const auto nettools = identities("dualstack-netstat-tan.txt", true, rn);
  const auto ss = identities("dualstack-ss-tan.txt", false, rs);
  CHECK(rb.malformed == 0);
  CHECK(rb.host_names.sockets == 0);
  CHECK(rb.cut_endpoints.sockets == 0);
  CHECK(busybox.size() == 23);
  CHECK(busybox == ss);
  CHECK(nettools == ss);
  CHECK(busybox.count("CLOSE_WAIT [::ffff:10.200.0.1]:7005 [::ffff:10.200.0.1]:37538") == 1);
}

TEST_CASE("a 23-column IPv6 field: perhaps cut from net-tools, whole from busybox") {
  const std::string header = "Proto Recv-Q Send-Q Local Address           Foreign Address         State\n";
  const std::string fields = "0      0 2001:db8:12:34::56:7443 2001:db8::1:50000       ESTABLISHED\n";
  Collect nettools, busybox;
  TextParseReport rn, rb;
  parse_netstat_text(header + "tcp6       " + fields, nettools.sink(), rn);
  parse_netstat_text(header + "tcp        " + fields, busybox.sink(), rb);
  REQUIRE(nettools.sockets.size() == 1);
  REQUIRE(busybox.sockets.size() == 1);
  // net-tools cuts "host:port" to exactly 23 columns: this address may be the start of another.
  CHECK(rn.cut_endpoints.sockets == 1);
  CHECK(nettools.sockets[0].local_host == "2001:db8:12:34::56");
  CHECK(rb.cut_endpoints.sockets == 0);
  CHECK(busybox.sockets[0].local_host.empty());
  CHECK(busybox.sockets[0].local.to_string() == "2001:db8:12:34::56");
  CHECK(busybox.sockets[0].local_port == 7443);
}
