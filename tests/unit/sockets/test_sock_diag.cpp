#include <catch2/catch.hpp>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <set>

#include "tcpkit/io/netlink_error.hpp"
#include "tcpkit/sockets/sock_diag.hpp"
#include "tcpkit/sockets/ss_text.hpp"
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

namespace {
// The kernel's inet_diag_bc_run, for ports only: jump `yes` or `no` bytes; accept at the end.
bool run_bytecode(const std::string& bc, uint16_t sport, uint16_t dport) {
  int len = static_cast<int>(bc.size());
  size_t off = 0;
  while (len > 0) {
    inet_diag_bc_op op, arg{};
    std::memcpy(&op, bc.data() + off, sizeof op);
    if (op.code != INET_DIAG_BC_JMP) std::memcpy(&arg, bc.data() + off + 4, sizeof arg);
    bool yes = true;
    switch (op.code) {
      case INET_DIAG_BC_JMP: yes = false; break;
      case INET_DIAG_BC_S_GE: yes = sport >= arg.no; break;
      case INET_DIAG_BC_S_LE: yes = sport <= arg.no; break;
      case INET_DIAG_BC_D_EQ: yes = dport == arg.no; break;
      default: FAIL("unexpected op " << int(op.code));
    }
    const int step = yes ? op.yes : op.no;
    len -= step;
    off += static_cast<size_t>(step);
  }
  return len == 0;
}
}  // namespace

TEST_CASE("both families in one TCPDIAG_GETSOCK request, with a port bytecode the kernel can run") {
  SockDiagQuery q;
  q.states = StateSet::of(TcpState::established);
  q.local_ports = std::make_pair(uint16_t(32768), uint16_t(60999));
  q.remote_ports = {80, 443, 8081};
  const std::string req = build_sock_diag_request(AF_UNSPEC, q, 3);
  nlmsghdr h;
  inet_diag_req r;
  std::memcpy(&h, req.data(), sizeof h);
  std::memcpy(&r, req.data() + sizeof h, sizeof r);
  CHECK(h.nlmsg_type == TCPDIAG_GETSOCK);
  CHECK(h.nlmsg_len == req.size());
  CHECK(r.idiag_states == (1u << 1));
  rtattr a;
  const size_t at = sizeof h + sizeof r;
  std::memcpy(&a, req.data() + at, sizeof a);
  CHECK(a.rta_type == INET_DIAG_REQ_BYTECODE);
  const std::string bc = req.substr(at + sizeof a);
  REQUIRE(a.rta_len == sizeof a + bc.size());
  // The kernel's audit follows the `yes` chain: it must reach the end exactly.
  size_t off = 0;
  while (off < bc.size()) {
    inet_diag_bc_op op;
    std::memcpy(&op, bc.data() + off, sizeof op);
    REQUIRE(op.yes >= 4);
    off += op.yes;
  }
  CHECK(off == bc.size());
  CHECK(run_bytecode(bc, 40000, 80));
  CHECK(run_bytecode(bc, 40000, 443));
  CHECK(run_bytecode(bc, 60999, 8081));
  CHECK_FALSE(run_bytecode(bc, 40000, 8080));
  CHECK_FALSE(run_bytecode(bc, 80, 443));      // a server's socket: local port not ephemeral
  CHECK_FALSE(run_bytecode(bc, 61000, 443));
  const size_t program_at = sizeof(nlmsghdr) + sizeof(inet_diag_req_v2) + sizeof(rtattr);
  // Up to the limit, every remote port is in the program.
  q.remote_ports.assign(kMaxFilteredRemotePorts, 1);
  q.remote_ports.back() = 2;
  const std::string longest = build_sock_diag_request(AF_INET, q, 4).substr(program_at);
  CHECK(run_bytecode(longest, 40000, 2));
  CHECK_FALSE(run_bytecode(longest, 40000, 5));
  // Only the local range when there are too many services to list.
  q.remote_ports.assign(kMaxFilteredRemotePorts + 1, 1);
  const std::string wide = build_sock_diag_request(AF_INET, q, 5).substr(program_at);
  CHECK(run_bytecode(wide, 40000, 5));
  CHECK_FALSE(run_bytecode(wide, 1000, 5));
}

TEST_CASE("TCPDIAG_GETSOCK replies decode like SOCK_DIAG_BY_FAMILY ones") {
  struct {
    nlmsghdr h;
    inet_diag_msg m;
  } msg{};
  msg.h.nlmsg_len = sizeof msg;
  msg.h.nlmsg_type = TCPDIAG_GETSOCK;
  msg.m.idiag_family = AF_INET;
  msg.m.idiag_state = 1;
  msg.m.id.idiag_sport = htons(443);
  std::vector<uint8_t> buf(sizeof msg);
  std::memcpy(buf.data(), &msg, sizeof msg);
  uint16_t port = 0;
  const auto d = decode_sock_diag(buf, [&](SocketRecord& s) {
    port = s.local_port;
    return true;
  });
  CHECK(d.sockets == 1);
  CHECK(port == 443);
}

TEST_CASE("sock_diag lookup request: one exact connection, no dump, every state") {
  const SockDiagLookup id{*IpAddress::parse("10.0.0.1"), 40000, *IpAddress::parse("10.0.0.2"), 22, 3};
  const std::string req = build_sock_diag_lookup(id, 9);
  REQUIRE(req.size() == sizeof(nlmsghdr) + sizeof(inet_diag_req_v2));
  nlmsghdr h;
  inet_diag_req_v2 r;
  std::memcpy(&h, req.data(), sizeof h);
  std::memcpy(&r, req.data() + sizeof h, sizeof r);
  CHECK(h.nlmsg_len == req.size());
  CHECK(h.nlmsg_type == SOCK_DIAG_BY_FAMILY);
  CHECK(h.nlmsg_flags == NLM_F_REQUEST);
  CHECK(h.nlmsg_seq == 9u);
  CHECK(r.sdiag_family == AF_INET);
  CHECK(r.sdiag_protocol == IPPROTO_TCP);
  CHECK(r.idiag_states == ~0u);
  CHECK(r.id.idiag_if == 3u);
  CHECK(ntohs(r.id.idiag_sport) == 40000);
  CHECK(ntohs(r.id.idiag_dport) == 22);
  CHECK(std::memcmp(r.id.idiag_src, id.local.data(), 4) == 0);
  CHECK(std::memcmp(r.id.idiag_dst, id.remote.data(), 4) == 0);
  CHECK(r.id.idiag_cookie[0] == INET_DIAG_NOCOOKIE);
  CHECK(r.id.idiag_cookie[1] == INET_DIAG_NOCOOKIE);
}

// Found by fuzz_sock_diag (UBSan): an error field of INT_MIN was negated, which overflows.
TEST_CASE("an NLMSG_ERROR that is no -errno is a bad message, not an overflow") {
  for (const int32_t error : {std::numeric_limits<int32_t>::min(), -4096, 5, std::numeric_limits<int32_t>::max()}) {
    INFO(error);
    struct {
      nlmsghdr h;
      int32_t e;
    } msg{};
    msg.h.nlmsg_len = sizeof msg;
    msg.h.nlmsg_type = NLMSG_ERROR;
    msg.e = error;
    std::vector<uint8_t> buf(sizeof msg);
    std::memcpy(buf.data(), &msg, sizeof msg);
    CHECK(decode_sock_diag(buf, [](SocketRecord&) { return true; }).error == EBADMSG);
  }
  CHECK(netlink_errno(static_cast<const void*>(nullptr), 0) == EBADMSG);  // too short for the field
  const int32_t ack = 0, enoent = -ENOENT;
  CHECK(netlink_errno(&ack, sizeof ack) == 0);
  CHECK(netlink_errno(&enoent, sizeof enoent) == ENOENT);
}
