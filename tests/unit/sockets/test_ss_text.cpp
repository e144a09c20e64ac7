#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "tcpkit/sockets/netstat_text.hpp"
#include "tcpkit/sockets/ss_text.hpp"
#include "tcpstate_fixtures.hpp"

using namespace tcpkit;
using namespace tcpstate_test;

namespace {
std::map<TcpState, int> count_states(const std::vector<SocketRecord>& v) {
  std::map<TcpState, int> m;
  for (const auto& s : v) m[s.state]++;
  return m;
}
}  // namespace

TEST_CASE("real ss -tan output: every socket, every state") {
  Collect c;
  TextParseReport r;
  parse_ss_text(fixture("ss-tan.txt"), c.sink(), r);
  CHECK(r.malformed == 0);
  REQUIRE(c.sockets.size() == 32);
  const auto m = count_states(c.sockets);
  CHECK(m.at(TcpState::listen) == 6);
  CHECK(m.at(TcpState::established) == 10);
  CHECK(m.at(TcpState::close_wait) == 3);
  CHECK(m.at(TcpState::fin_wait2) == 3);
  CHECK(m.at(TcpState::time_wait) == 3);
  CHECK(m.at(TcpState::syn_sent) == 3);
  CHECK(m.at(TcpState::syn_recv) == 4);
  // "*:8090 *:*" from ss 6.x is the dual-stack IPv6 wildcard; "0.0.0.0%d0:5353" is bound to d0.
  int v6_any = 0, bound = 0;
  for (const auto& s : c.sockets) {
    if (s.state == TcpState::listen && s.local.is_v6() && s.local.is_unspecified()) ++v6_any;
    if (s.interface == "d0") ++bound;
  }
  CHECK(v6_any == 2);
  CHECK(bound == 2);
}

TEST_CASE("real ss -tanoepi: timers, owners with odd names, uid, inode and TCP_INFO") {
  Collect c;
  TextParseReport r;
  parse_ss_text(fixture("ss-tanoepi.txt"), c.sink(), r);
  CHECK(r.malformed == 0);
  REQUIRE(c.sockets.size() == 32);
  int with_info = 0, odd_owner = 0;
  for (const auto& s : c.sockets) {
    INFO(identity(s));
    if (s.info) ++with_info;
    if (!s.processes.empty() && s.processes[0].name == "srv (a") ++odd_owner;  // ss cuts at ')'
    switch (s.state) {
      case TcpState::time_wait:
        CHECK(s.timer == TimerKind::time_wait);
        REQUIRE(s.timer_ms);
        CHECK(*s.timer_ms > 50000);
        CHECK(*s.timer_ms <= 60000);
        CHECK(s.inode == 0u);
        break;
      case TcpState::syn_recv:
        CHECK(s.timer == TimerKind::retransmit);
        REQUIRE(s.timer_ms);
        CHECK(*s.timer_ms > 1000);  // "1.4xxms" is seconds in iproute2 6.1
        CHECK(*s.timer_ms < 3000);
        CHECK(s.retransmits == 1);
        break;
      case TcpState::syn_sent:
        CHECK(s.timer == TimerKind::retransmit);
        CHECK(s.send_q == 1);
        REQUIRE(s.info);
        CHECK(s.info->retrans == 1);
        CHECK(s.info->total_retrans == 1);
        CHECK(s.info->unacked == 1);
        break;
      case TcpState::established:
        REQUIRE(s.info);
        CHECK(s.info->rtt_us > 0);
        CHECK(s.info->cwnd == 10);
        CHECK(s.info->rto_us == 204000);
        REQUIRE(s.processes.size() == 1);
        CHECK(s.processes[0].fd >= 3);
        CHECK(s.uid == 0u);
        CHECK(s.inode.value_or(0) > 0);
        break;
      default: break;
    }
  }
  CHECK(with_info >= 20);
  CHECK(odd_owner == 7);
}

TEST_CASE("ss flag combinations give the same sockets") {
  auto ids = [](const std::string& name) {
    Collect c;
    TextParseReport r;
    parse_ss_text(fixture(name), c.sink(), r);
    CHECK(r.malformed == 0);
    std::multiset<std::string> out;
    for (const auto& s : c.sockets) out.insert(identity(s));
    return out;
  };
  const auto base = ids("ss-tan.txt");
  for (const char* f : {"ss-tano.txt", "ss-tanp.txt", "ss-tani.txt", "ss-tane.txt", "ss-tanoepi.txt"}) {
    INFO(f);
    CHECK(ids(f) == base);
  }
}

TEST_CASE("hand-made ss variants: netid column, zones, wildcards, odd names, both timer formats") {
  Collect c;
  TextParseReport r;
  parse_ss_text(fixture("ss-variants.txt"), c.sink(), r);
  CHECK(r.malformed == 0);
  CHECK(r.skipped == 3);  // header, blank line, udp
  REQUIRE(c.sockets.size() == 12);
  const auto& s = c.sockets;
  CHECK(s[0].state == TcpState::listen);
  CHECK(s[0].local.is_v6());
  CHECK(s[0].processes == std::vector<ProcessRef>{{"sshd", 812, 3}});
  CHECK(s[1].state == TcpState::time_wait);
  CHECK(s[1].timer_ms == 59000);
  CHECK(s[2].processes == std::vector<ProcessRef>{{"my app, (v2)", 900, 7}, {"x\\\"y", 901, 8}});
  CHECK(s[2].timer == TimerKind::keepalive);
  CHECK(s[2].timer_ms == 2592);  // "2.592ms": seconds
  CHECK(s[2].uid == 1000u);
  CHECK(s[2].inode == 4242u);
  CHECK(s[3].timer_ms == 2592);  // "2.592sec"
  CHECK(s[4].timer_ms == 40);
  CHECK(s[4].retransmits == 2);
  CHECK(s[5].state == TcpState::fin_wait1);
  CHECK(s[5].interface == "eth0");
  CHECK(s[5].local.to_string() == "fe80::1");
  CHECK(s[5].timer_ms == 62000);
  CHECK(s[6].interface == "d0");
  CHECK(s[6].remote.is_v6());
  CHECK(s[7].interface == "lo");
  CHECK(s[7].local.is_v4());
  CHECK(s[8].state == TcpState::close_wait);
  CHECK(s[8].local.to_string() == "::ffff:10.0.0.5");
  CHECK(s[8].recv_q == 7);
  CHECK(s[8].processes == std::vector<ProcessRef>{{"java", 1234, 55}});
  CHECK(s[9].timer_ms == 119 * 60000);
  CHECK(s[10].timer == TimerKind::zero_window_probe);
  CHECK(s[10].timer_ms == 0);
  CHECK(s[11].state == TcpState::close);
}

TEST_CASE("old iproute2 output: '*' is IPv4, ':::22' is IPv6, old users format, -i on the next line") {
  Collect c;
  TextParseReport r;
  parse_ss_text(fixture("ss-old.txt"), c.sink(), r);
  CHECK(r.malformed == 0);
  REQUIRE(c.sockets.size() == 5);
  CHECK(c.sockets[0].local.is_v4());
  CHECK(c.sockets[0].processes == std::vector<ProcessRef>{{"sshd", 1123, 3}});
  CHECK(c.sockets[1].local.is_v6());
  const auto& e = c.sockets[2];
  CHECK(e.timer_ms == 204);
  REQUIRE(e.info);
  CHECK(e.info->rtt_us == 4500);
  CHECK(e.info->rttvar_us == 2250);
  CHECK(e.info->mss == 1448);
  CHECK(e.info->ssthresh == 7);
  CHECK(e.info->total_retrans == 2);
  CHECK(c.sockets[3].timer_ms == 35000);
  CHECK(c.sockets[4].state == TcpState::syn_recv);
  CHECK(c.sockets[4].timer_ms == 2816);
}

TEST_CASE("malformed ss lines are warnings with line numbers; the rest is read") {
  Collect c;
  TextParseReport r;
  parse_ss_text(fixture("ss-malformed.txt"), c.sink(), r);
  // Line 6, "10.0.0.1:ssh", is what ss prints without -n: port 22, not an error. Line 9's
  // process list is unreadable (nor does the next line complete it): the socket is kept without it.
  REQUIRE(c.sockets.size() == 4);
  CHECK(c.sockets[0].remote_port == 5000);
  CHECK(c.sockets[1].local_port == 22);
  CHECK(c.sockets[1].remote_port == 5004);
  CHECK(c.sockets[2].remote_port == 5006);
  CHECK(c.sockets[2].processes.empty());
  CHECK(c.sockets[3].remote_port == 5009);
  CHECK(r.owners_unreadable == 1);
  REQUIRE(r.malformed == 8);
  std::vector<size_t> lines;
  for (const auto& w : r.warnings) lines.push_back(w.line);
  CHECK(lines == std::vector<size_t>{3, 4, 5, 7, 8, 10, 11, 13});
  CHECK(r.warnings[0].message.find("BOGUS") != std::string::npos);
}

TEST_CASE("binary garbage and a missing final newline do not stop the parser") {
  Collect c;
  TextParseReport r;
  parse_ss_text(fixture("ss-binary.txt"), c.sink(), r);
  CHECK(c.sockets.size() == 2);
  CHECK(r.malformed == 1);
}

TEST_CASE("ss durations") {
  CHECK(parse_ss_duration_ms("200ms") == 200);
  CHECK(parse_ss_duration_ms("040ms") == 40);
  CHECK(parse_ss_duration_ms("1.488ms") == 1488);
  CHECK(parse_ss_duration_ms("1.5sec") == 1500);
  CHECK(parse_ss_duration_ms("58sec") == 58000);
  CHECK(parse_ss_duration_ms("1min2sec") == 62000);
  CHECK(parse_ss_duration_ms("119min") == 7140000);
  // Values no timer can have (up to 1e34 ms) are refused, not rounded out of int64's range.
  CHECK(parse_ss_duration_ms("9007199254740992ms") == 9007199254740992);
  for (const char* bad : {"", "ms", "1", "1h", "1..2ms", "abc", "-1ms", "999999999999999999999999min",
                          "99999999999999999999ms", "9999999999999999sec1min"}) {
    INFO(bad);
    CHECK_FALSE(parse_ss_duration_ms(bad));
  }
}

TEST_CASE("the format of saved text is detected") {
  CHECK(detect_socket_text_format(fixture("ss-tan.txt")) == SocketTextFormat::ss);
  CHECK(detect_socket_text_format(fixture("ss-variants.txt")) == SocketTextFormat::ss);
  CHECK(detect_socket_text_format(fixture("netstat-tanop.txt")) == SocketTextFormat::netstat);
  CHECK(detect_socket_text_format("tcp 0 0 1.2.3.4:1 5.6.7.8:2 ESTABLISHED\n") == SocketTextFormat::netstat);
  CHECK(detect_socket_text_format("\n\nESTAB 0 0 1.2.3.4:1 5.6.7.8:2\n") == SocketTextFormat::ss);
  CHECK(detect_socket_text_format("hello world\n") == SocketTextFormat::unknown);
  CHECK(detect_socket_text_format(fixture("proc-net-tcp.txt")) == SocketTextFormat::unknown);
  CHECK(detect_socket_text_format("") == SocketTextFormat::unknown);
}

TEST_CASE("ss without -n: service names through the services database, host names kept") {
  Collect c;
  TextParseReport r;
  parse_ss_text("State Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                "LISTEN 0 128 0.0.0.0:http 0.0.0.0:*\n"
                "LISTEN 0 128 [::]:ssh [::]:*\n"
                "LISTEN 0 128 *:x11-1 *:*\n"
                "ESTAB 0 0 [::ffff:10.0.0.1]:https [::ffff:10.0.0.9]:51000\n"
                "ESTAB 0 0 10.0.0.1:ssh db-1.example-corp.net:40000\n"
                "ESTAB 0 0 localhost:domain localhost:41000\n"
                "ESTAB 0 0 10.0.0.1:no-such-svc 10.0.0.2:41001\n",
                c.sink(), r);
  REQUIRE(c.sockets.size() == 7);
  CHECK(r.malformed == 0);
  const auto& s = c.sockets;
  CHECK(s[0].local_port == 80);
  CHECK(s[1].local_port == 22);
  CHECK(s[1].local.is_v6());
  CHECK(s[2].local_port == 6001);
  CHECK(s[3].local.to_string() == "::ffff:10.0.0.1");
  CHECK(s[3].local_port == 443);
  CHECK(s[4].remote_host == "db-1.example-corp.net");
  CHECK(s[4].remote.is_v4());  // the family of the numeric end
  CHECK(s[4].family_known);
  CHECK(s[5].local_host == "localhost");
  CHECK(s[5].local_port == 53);
  CHECK_FALSE(s[5].family_known);
  CHECK(s[5].local.is_v4());  // an address is needed; per-family counts keep them apart
  CHECK(s[6].local_service == "no-such-svc");
  CHECK(s[6].local_port == 0);
  CHECK(r.host_names.sockets == 2);
  CHECK(r.host_names.examples == std::vector<std::string>{"db-1.example-corp.net", "localhost"});
  CHECK(r.unknown_services.sockets == 1);
  CHECK(r.unknown_family == 1);
}

TEST_CASE("a capture of `ss state X` has no State column: stop, or take the state given") {
  const std::string text = "Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
                           "0 0 10.0.0.1:40000 10.0.0.2:80\n0 0 10.0.0.1:40001 10.0.0.2:http\n";
  {
    Collect c;
    TextParseReport r;
    parse_ss_text(text, c.sink(), r);
    CHECK(c.sockets.empty());
    CHECK(r.state_column_missing);
    CHECK(r.malformed == 0);
  }
  for (const std::string& t : {text, text.substr(text.find('\n') + 1)}) {  // with and without the header
    Collect c;
    TextParseReport r;
    parse_ss_text(t, c.sink(), r, TcpState::time_wait);
    REQUIRE(c.sockets.size() == 2);
    CHECK(c.sockets[0].state == TcpState::time_wait);
    CHECK(c.sockets[1].remote_port == 80);
    CHECK_FALSE(r.state_column_missing);
  }
}

TEST_CASE("ss -p text wrapped at 80 columns (fold, a terminal's copy) is read whole again") {
  // Found: `ss -tanp | fold -w 80` cut every process list; each such socket was skipped as
  // malformed (47 ESTABLISHED read as 0), its state, queues and addresses all there.
  const std::string whole = "ESTAB 0      0            10.207.0.1:34560       10.207.0.2:50052 "
                            "users:((\"python3\",pid=15315,fd=3))";
  std::string folded;
  for (size_t at = 0; at < whole.size(); at += 80) folded += whole.substr(at, 80) + "\n";
  const std::string header = "State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n";
  const std::string text = header + folded + folded +
                           // cut just before the list: the list alone on the next line
                           "ESTAB 0 0 10.207.0.1:34562 10.207.0.2:50052\nusers:((\"sshd\",pid=7,fd=4))\n" +
                           // cut and never completed: kept without its processes
                           "ESTAB 0 0 10.207.0.1:34564 10.207.0.2:50052 users:((\"pyth\n" +
                           "ESTAB 0 0 10.207.0.1:34566 10.207.0.2:50052\n";
  Collect c;
  TextParseReport r;
  parse_ss_text(text, c.sink(), r);
  REQUIRE(c.sockets.size() == 5);
  for (size_t i : {0, 1}) {
    REQUIRE(c.sockets[i].processes.size() == 1);
    CHECK(c.sockets[i].processes[0].name == "python3");
    CHECK(c.sockets[i].processes[0].pid == 15315);
  }
  REQUIRE(c.sockets[2].processes.size() == 1);
  CHECK(c.sockets[2].processes[0].name == "sshd");
  CHECK(c.sockets[3].local_port == 34564);
  CHECK(c.sockets[3].processes.empty());
  CHECK(c.sockets[4].local_port == 34566);
  CHECK(r.malformed == 0);
  CHECK(r.rejoined_lines == 3);
  CHECK(r.owners_unreadable == 1);
  // The last line's cut list, with nothing after it, is kept as well.
  Collect last;
  TextParseReport lr;
  parse_ss_text(header + whole.substr(0, 80) + "\n", last.sink(), lr);
  REQUIRE(last.sockets.size() == 1);
  CHECK(lr.owners_unreadable == 1);
}

TEST_CASE("the shell prompt and command copied above the text are no socket line") {
  // Found: a prompt above `ss -Htn state time-wait` text was a malformed line, which stopped the
  // headerless text from being recognised: "no socket could be read from 106 malformed lines";
  // above `ss -tn state time-wait`, --from-state was said not used, though it was.
  const std::string rows = "0 0 10.0.0.1:40000 10.0.0.2:80\n0 0 10.0.0.1:40001 10.0.0.2:80\n";
  for (const std::string prompt : {"root@web1:~# ss -Htn state time-wait\n", "$ ss -Htn state time-wait\n",
                                   "admin@db ~ % sudo /usr/sbin/ss -Htn state time-wait\n"}) {
    Collect c;
    TextParseReport r;
    parse_ss_text(prompt + rows, c.sink(), r, TcpState::time_wait);
    REQUIRE(c.sockets.size() == 2);
    CHECK(r.malformed == 0);
    CHECK_FALSE(r.given_state_unused);
  }
  Collect c;
  TextParseReport r;
  parse_ss_text("$ ss -tn state time-wait\nRecv-Q Send-Q Local Address:Port Peer Address:Port Process\n" + rows,
                c.sink(), r, TcpState::time_wait);
  CHECK(c.sockets.size() == 2);
  CHECK_FALSE(r.given_state_unused);
  CHECK(r.malformed == 0);
}

TEST_CASE("ss text line by line: each socket goes out once the next line shows it is complete") {
  Collect c;
  TextParseReport r;
  SsTextParser p(c.sink(), r);
  CHECK(p.line("State Recv-Q Send-Q Local Address:Port Peer Address:Port"));
  CHECK(p.line("ESTAB 0 0 10.0.0.1:22 10.0.0.2:5000"));
  CHECK(c.sockets.empty());  // -i details may follow
  CHECK(p.line("\t cubic rtt:1.5/0.75 cwnd:10"));
  CHECK(p.line("ESTAB 0 0 10.0.0.1:22 10.0.0.2:5001"));
  REQUIRE(c.sockets.size() == 1);
  CHECK(c.sockets[0].info->cwnd == 10);
  CHECK(p.finish());
  CHECK(c.sockets.size() == 2);
}

TEST_CASE("old ss \"*:22\" waits for the line that shows the dialect, and keeps the order") {
  Collect c;
  TextParseReport r;
  SsTextParser p(c.sink(), r);
  CHECK(p.line("LISTEN 0 128 *:22 *:*"));
  CHECK(p.line("ESTAB 0 0 10.0.0.1:22 10.0.0.2:5000"));
  CHECK(p.line("LISTEN 0 128 :::22 :::*"));
  CHECK(p.finish());
  REQUIRE(c.sockets.size() == 3);
  CHECK(c.sockets[0].local.is_v4());  // old ss: "*" is the IPv4 wildcard
  CHECK(c.sockets[1].remote_port == 5000);
  CHECK(c.sockets[2].local.is_v6());
}

namespace {
// Feeds text to a line parser as a streaming caller would: split at '\n' only, so a file saved
// with CRLF endings hands each line over with its '\r'.
template <typename Parser>
void feed_lines(Parser& parser, std::string_view text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    parser.line(text.substr(start, end - start));
    start = end + 1;
  }
}

std::string with_crlf(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '\n' ? std::string("\r\n") : std::string(1, c);
  return out;
}
}  // namespace

// Found by fuzz_socket_text: fed line by line, a "\r" left at a line's end changed what was read.
TEST_CASE("a CRLF capture reads the same whole and line by line (ss and netstat)") {
  for (const char* name : {"ss-tanoepi.txt", "ss-variants.txt", "ss-old.txt", "ss-variants.txt\r"}) {
    INFO(name);
    // The last name: every line ends in "\r\r\n", so exactly one '\r' is dropped either way.
    const std::string_view file(name);
    const bool doubled = file.back() == '\r';
    std::string text = with_crlf(fixture(std::string(file.substr(0, file.size() - doubled))));
    if (doubled) text = with_crlf(text);
    Collect whole, lines;
    TextParseReport r1, r2;
    parse_ss_text(text, whole.sink(), r1);
    SsTextParser parser(lines.sink(), r2);
    feed_lines(parser, text);
    parser.finish();
    REQUIRE(!whole.sockets.empty());
    REQUIRE(lines.sockets.size() == whole.sockets.size());
    for (size_t i = 0; i < whole.sockets.size(); ++i)
      CHECK(to_record(lines.sockets[i]).dump() == to_record(whole.sockets[i]).dump());
    CHECK(r1.malformed == r2.malformed);
  }
  for (const char* name : {"netstat-tanope.txt", "netstat-variants.txt"}) {
    INFO(name);
    const std::string text = with_crlf(fixture(name));
    Collect whole, lines;
    TextParseReport r1, r2;
    parse_netstat_text(text, whole.sink(), r1);
    NetstatTextParser parser(lines.sink(), r2);
    feed_lines(parser, text);
    REQUIRE(!whole.sockets.empty());
    REQUIRE(lines.sockets.size() == whole.sockets.size());
    for (size_t i = 0; i < whole.sockets.size(); ++i)
      CHECK(to_record(lines.sockets[i]).dump() == to_record(whole.sockets[i]).dump());
    CHECK(r1.malformed == r2.malformed);
  }
}

// Found by fuzz_socket_text: old-ss "*:22" sockets wait for the dialect; when a header without
// a State column stopped the reading, they were counted as read but never reached the sink.
TEST_CASE("sockets held for the dialect are counted only when they reach the sink") {
  Collect c;
  TextParseReport r;
  parse_ss_text("State Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                "LISTEN 0 128 *:22 *:*\n"
                "LISTEN 0 128 *:80 *:*\n"
                "Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                "0 0 10.0.0.1:22 10.0.0.2:5000\n",
                c.sink(), r);
  CHECK(r.second_output_line == 4);  // a second output, without a State column: not read
  CHECK(r.sockets == c.sockets.size());
  CHECK(c.sockets.size() == 2);
}

TEST_CASE("after a stop the line parser takes nothing more, finish included") {
  Collect c;
  TextParseReport r;
  SsTextParser p(c.sink(), r);
  CHECK_FALSE(p.line("Recv-Q Send-Q Local Address:Port Peer Address:Port"));  // no State column, none given
  CHECK(r.state_column_missing);
  CHECK_FALSE(p.line("0 128 *:80 *:*"));
  CHECK_FALSE(p.finish());
  CHECK(c.sockets.empty());
  CHECK(r.sockets == 0);
  // At a second output's header: the first output's sockets (the one held for the dialect
  // too) have all gone to the sink, and nothing after it is taken.
  Collect d;
  TextParseReport q;
  SsTextParser second(d.sink(), q);
  CHECK(second.line("State Recv-Q Send-Q Local Address:Port Peer Address:Port"));
  CHECK(second.line("LISTEN 0 128 *:22 *:*"));
  CHECK_FALSE(second.line("State Recv-Q Send-Q Local Address:Port Peer Address:Port"));
  CHECK(q.second_output_line == 3);
  CHECK_FALSE(second.line("LISTEN 0 128 *:80 *:*"));
  CHECK_FALSE(second.finish());
  REQUIRE(d.sockets.size() == 1);
  CHECK(d.sockets[0].local_port == 22);
  CHECK(q.sockets == 1);
}

namespace {
// Every line cut into pieces of width characters (as `fold -w width` does to a line without tabs).
std::string fold(const std::string& text, size_t width) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    for (size_t at = 0; at < line.size() || at == 0; at += width) out += line.substr(at, width) + "\n";
    start = end + 1;
  }
  return out;
}
}  // namespace

TEST_CASE("ss text wrapped at any width (fold, a terminal's copy) reads as it was printed") {
  // Found by an explorer: `fold -w 120` of `ss -tanp` with long IPv6 addresses cut ports
  // 8443 and 8445 into '8' (one service that does not exist) and client ports into '5' and
  // '4'; at 75-82 columns, where the cut fell in 'users:', every owner was lost.
  const std::string text =
      "State     Recv-Q Send-Q                              Local Address:Port                               "
      "Peer Address:Port Process\n"
      "LISTEN    0      128                                       0.0.0.0:22                                      "
      "0.0.0.0:*     users:((\"sshd\",pid=611,fd=3))\n"
      "ESTAB     0      0      [2001:db8:aaaa:bbbb:cccc:dddd:eeee:1]:59745 [2001:db8:aaaa:bbbb:cccc:dddd:eeee:2]:8443  "
      "users:((\"python3\",pid=7936,fd=5))\n"
      "FIN-WAIT-2 0     0      [2001:db8:aaaa:bbbb:cccc:dddd:eeee:1]:43705 [2001:db8:aaaa:bbbb:cccc:dddd:eeee:2]:8445  "
      "timer:(timewait,59sec,0)\n"
      "CLOSE-WAIT 101   0                                      10.208.0.1:9000                               "
      "10.208.0.2:53900 users:((\"python3\",pid=7936,fd=7),(\"python3\",pid=7937,fd=7))\n"
      "ESTAB     0      0                                      10.208.0.1:22                                  "
      "10.208.0.2:5\n";
  Collect whole;
  TextParseReport wr;
  parse_ss_text(text, whole.sink(), wr);
  REQUIRE(whole.sockets.size() == 5);
  REQUIRE(wr.malformed == 0);
  CHECK(whole.sockets[1].remote_port == 8443);
  for (size_t width = 30; width <= 200; ++width) {
    CAPTURE(width);
    Collect c;
    TextParseReport r;
    parse_ss_text(fold(text, width), c.sink(), r);
    CHECK(r.malformed == 0);
    REQUIRE(c.sockets.size() == whole.sockets.size());
    for (size_t i = 0; i < c.sockets.size(); ++i)
      CHECK(to_record(c.sockets[i]).dump() == to_record(whole.sockets[i]).dump());
  }
}

TEST_CASE("several ss outputs in one file: the first alone is read, and where the next begins is said") {
  // Found by an explorer: two copies of one capture were added together: 18 SYN_RECV in a
  // backlog of 16 (the two LISTEN lines taken for SO_REUSEPORT sockets), verdict FLOOD,
  // where the host had 9 of 8; no word on stderr.
  const std::string one = "State Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                          "LISTEN 9 8 10.0.0.1:7000 0.0.0.0:*\n"
                          "SYN-RECV 0 0 10.0.0.1:7000 10.0.0.2:40000\n"
                          "TIME-WAIT 0 0 10.0.0.1:80 10.0.0.2:40001\n";
  Collect c;
  TextParseReport r;
  parse_ss_text(one + one + one, c.sink(), r);
  CHECK(c.sockets.size() == 3);
  CHECK(r.sockets == 3);
  CHECK(r.second_output_line == 5);
  CHECK(r.malformed == 0);
  // The command a user copied above each output is where the next one begins.
  TextParseReport p;
  Collect pc;
  parse_ss_text("$ ss -tan\n" + one + "root@web1:~# sudo /sbin/ss -tan\n" + one, pc.sink(), p);
  CHECK(p.second_output_line == 6);
  // netstat: the same, but -a's UNIX socket section is no second output.
  const std::string ns = "Active Internet connections (servers and established)\n"
                         "Proto Recv-Q Send-Q Local Address           Foreign Address         State\n"
                         "tcp        0      0 10.0.0.1:22             10.0.0.2:5000           ESTABLISHED\n";
  Collect n;
  TextParseReport nr;
  parse_netstat_text(ns + "Active UNIX domain sockets (servers and established)\n"
                          "Proto RefCnt Flags       Type       State         I-Node   Path\n" + ns,
                     n.sink(), nr);
  CHECK(n.sockets.size() == 1);
  CHECK(nr.second_output_line == 6);  // its "Active Internet" line, above the header
}

TEST_CASE("a wide line followed by lines that complete nothing is read as it was, each of them a warning") {
  // ss pads its columns: unwrapped lines are often as wide as the widest. What follows one
  // and starts no line is tried as its tail; junk is not, and is counted line by line.
  const std::string text = "State  Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                           "ESTAB  0      0      10.0.0.1:22        10.0.0.2:5000     \n"
                           "some junk\n"
                           "more: junk\n"
                           "ESTAB  0      0      10.0.0.1:22        10.0.0.2:5001     \n"
                           "(1 more line)\n";
  Collect c;
  TextParseReport r;
  parse_ss_text(text, c.sink(), r);
  REQUIRE(c.sockets.size() == 2);
  CHECK(c.sockets[0].remote_port == 5000);
  CHECK(c.sockets[1].remote_port == 5001);
  CHECK(r.malformed == 3);
  std::vector<size_t> lines;
  for (const auto& w : r.warnings) lines.push_back(w.line);
  CHECK(lines == std::vector<size_t>{3, 4, 6});
  CHECK(r.rejoined_lines == 0);
}

namespace {
// GNU `fold -w width`: by columns, a tab to the next multiple of 8; a line is cut before the
// character that would pass the width.
std::string fold_columns(const std::string& text, size_t width) {
  std::string out;
  size_t col = 0;
  for (char c : text) {
    if (c == '\n') {
      out += c;
      col = 0;
      continue;
    }
    const size_t next = c == '\t' ? (col / 8 + 1) * 8 : col + 1;
    if (next > width && col > 0) {
      out += '\n';
      col = 0;
    }
    out += c;
    col = c == '\t' ? (col / 8 + 1) * 8 : col + 1;
  }
  return out;
}
}  // namespace

TEST_CASE("wrapped -i details, state-filter captures and old ss read as printed; junk stays bounded") {
  // Review: fold counts a tab as up to 8 columns, so the -i details (which start with one)
  // never looked wide enough to be wrapped; a `state X` capture took a port's tail "884 users:"
  // for a socket line; old ss's ":::22" in a tail left the dialect unknown.
  const std::string info =
      "State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
      "ESTAB 0      0      10.208.0.1:58988   10.208.0.2:8080   users:((\"python3\",pid=12635,fd=43))\n"
      "\t cubic wscale:7,7 rto:204 rtt:0.05/0.025 mss:1448 pmtu:1500 rcvmss:536 advmss:1448 cwnd:10 "
      "bytes_acked:1 bytes_received:3 segs_out:2 segs_in:1 send 2316800000bps lastsnd:2088 rcv_space:14480\n"
      "ESTAB 0      0      10.208.0.1:58990   10.208.0.2:8080   users:((\"python3\",pid=12635,fd=44))\n";
  const std::string state_x = "Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
                              "0      0      10.208.0.1:53884   10.208.0.2:9000   users:((\"python3\",pid=7,fd=3))\n"
                              "0      0      10.208.0.1:53904   10.208.0.2:9000   users:((\"python3\",pid=7,fd=4))\n";
  const std::string legacy = "State      Recv-Q Send-Q      Local Address:Port        Peer Address:Port\n"
                             "LISTEN     0      128                     *:22                     *:*\n"
                             "LISTEN     0      128                    :::22                    :::*\n";
  for (const auto& [text, state] : {std::pair<std::string, std::optional<TcpState>>{info, std::nullopt},
                                    {state_x, TcpState::established}, {legacy, std::nullopt}}) {
    Collect whole;
    TextParseReport wr;
    parse_ss_text(text, whole.sink(), wr, state);
    REQUIRE(wr.malformed == 0);
    for (size_t width = 24; width <= 160; ++width) {
      CAPTURE(width, text.substr(0, 40));
      Collect c;
      TextParseReport r;
      parse_ss_text(fold_columns(text, width), c.sink(), r, state);
      CHECK(r.malformed == 0);
      REQUIRE(c.sockets.size() == whole.sockets.size());
      for (size_t i = 0; i < c.sockets.size(); ++i)
        CHECK(to_record(c.sockets[i]).dump() == to_record(whole.sockets[i]).dump());
    }
  }
  // Lines of ss's own fields after one socket line are joined at most a few times, and grep's
  // "--" separator is none of them.
  std::string junk = "State Recv-Q Send-Q Local Address:Port Peer Address:Port\nESTAB 0 0 10.0.0.1:22 10.0.0.2:5000\n";
  for (int i = 0; i < 5000; ++i) junk += " uid:0\n";
  junk += "--\n";
  Collect c;
  TextParseReport r;
  parse_ss_text(junk, c.sink(), r);
  CHECK(c.sockets.size() == 1);
  CHECK(r.rejoined_lines < 10);
  // A line joined from two, then one that goes on with a cut field and nothing completes: the
  // joined line is read as it was, and the warning names that one line, not the next.
  Collect d;
  TextParseReport q;
  parse_ss_text("ESTAB 0 0 1.2.3.\n"
                "4:22 1.2.3.5:500\n"
                "0 timer:(keepal\n"
                "ESTAB 0 0 1.2.3.4:22 1.2.3.5:5001\n",
                d.sink(), q);
  REQUIRE(d.sockets.size() == 2);
  CHECK(d.sockets[0].remote_port == 500);
  REQUIRE(q.warnings.size() == 1);
  CHECK(q.warnings[0].line == 3);
}
