#include <catch2/catch.hpp>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include <cstring>
#include <set>

#include "tcpkit/sock_diag.hpp"
#include "tcpkit/ss_text.hpp"
#include "tcpstate_fixtures.hpp"

using namespace tcpkit;
using namespace tcpstate_test;

namespace {
std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
}  // namespace

TEST_CASE("a recorded sock_diag dump decodes without a kernel and agrees with ss") {
  const std::string dump = fixture("sock-diag-dump.bin");
  REQUIRE(dump.size() > 1000);
  Collect c;
  const auto d = decode_sock_diag(bytes_of(dump), c.sink(), [](uint32_t) { return std::string("d0"); });
  CHECK(d.done == 2);  // the IPv4 dump, then the IPv6 dump
  CHECK(d.malformed == 0);
  CHECK(d.error == 0);
  REQUIRE(c.sockets.size() == 32);
  Collect ss;
  TextParseReport r;
  parse_ss_text(fixture("ss-tan.txt"), ss.sink(), r);
  std::multiset<std::string> a, b;
  for (const auto& s : c.sockets) a.insert(identity(s) + " " + s.interface);
  for (const auto& s : ss.sockets) b.insert(identity(s) + " " + s.interface);
  CHECK(a == b);
  int info = 0;
  for (const auto& s : c.sockets) {
    INFO(identity(s));
    if (s.info) ++info;
    if (s.state == TcpState::time_wait) {
      CHECK(s.timer == TimerKind::time_wait);
      CHECK(s.timer_ms.value_or(0) > 50000);
      CHECK(s.inode == 0u);
    }
    if (s.state == TcpState::syn_recv) CHECK(s.timer == TimerKind::retransmit);
    if (s.state == TcpState::listen && s.local_port == 8080) CHECK(s.send_q == 64);  // the backlog
    if (s.state == TcpState::established) {
      REQUIRE(s.info);
      CHECK(s.info->rtt_us > 0);
      CHECK(s.info->cwnd == 10);
      CHECK(s.inode.value_or(0) > 0);
    }
  }
  CHECK(info >= 20);
}

TEST_CASE("every truncation of the recorded dump decodes safely") {
  const std::string dump = fixture("sock-diag-dump.bin");
  size_t previous = 0;
  for (size_t n = 0; n <= dump.size(); n += 7) {
    std::vector<uint8_t> cut(dump.begin(), dump.begin() + static_cast<long>(n));  // exact size for ASan
    size_t count = 0;
    const auto d = decode_sock_diag(cut, [&](SocketRecord&) { return ++count, true; });
    CHECK(d.sockets == count);
    CHECK(count >= previous);  // more bytes never give fewer sockets
    previous = count;
  }
}

TEST_CASE("a stopping sink stops the decoder, lengths past the buffer are malformed") {
  const std::string dump = fixture("sock-diag-dump.bin");
  size_t count = 0;
  const auto d = decode_sock_diag(bytes_of(dump), [&](SocketRecord&) { return ++count < 3; });
  CHECK(d.stopped);
  CHECK(count == 3);
  std::string bad = dump.substr(0, 64);
  const uint32_t huge = 100000;
  std::memcpy(bad.data(), &huge, 4);
  const auto e = decode_sock_diag(bytes_of(bad), [](SocketRecord&) { return true; });
  CHECK(e.malformed == 1);
  CHECK(e.sockets == 0);
}

TEST_CASE("an NLMSG_ERROR reply gives its errno") {
  struct {
    nlmsghdr h;
    nlmsgerr e;
  } msg{};
  msg.h.nlmsg_len = sizeof msg;
  msg.h.nlmsg_type = NLMSG_ERROR;
  msg.e.error = -2;
  std::vector<uint8_t> buf(sizeof msg);
  std::memcpy(buf.data(), &msg, sizeof msg);
  const auto d = decode_sock_diag(buf, [](SocketRecord&) { return true; });
  CHECK(d.error == 2);
}

TEST_CASE("the request asks the kernel for the chosen states and TCP_INFO") {
  SockDiagQuery q;
  q.states = StateSet::of(TcpState::time_wait);
  q.tcp_info = true;
  const std::string req = build_sock_diag_request(AF_INET6, q, 7);
  REQUIRE(req.size() == sizeof(nlmsghdr) + sizeof(inet_diag_req_v2));
  nlmsghdr h;
  inet_diag_req_v2 r;
  std::memcpy(&h, req.data(), sizeof h);
  std::memcpy(&r, req.data() + sizeof h, sizeof r);
  CHECK(h.nlmsg_type == SOCK_DIAG_BY_FAMILY);
  CHECK(h.nlmsg_seq == 7u);
  CHECK((h.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP);
  CHECK(r.sdiag_family == AF_INET6);
  CHECK(r.sdiag_protocol == IPPROTO_TCP);
  CHECK(r.idiag_states == (1u << 6));
  CHECK(r.idiag_ext == (1u << (INET_DIAG_INFO - 1)));
}
