#include "tcpkit/sockets/sock_diag.hpp"
#include "tcpkit/io/netlink_error.hpp"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <vector>

namespace tcpkit {

namespace {

template <class T>
T load(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

constexpr size_t align4(size_t n) { return (n + 3) & ~size_t(3); }

TimerKind timer_kind(uint8_t t) {
  switch (t) {
    case 0: return TimerKind::none;
    case 1: return TimerKind::retransmit;
    case 2: return TimerKind::keepalive;
    case 3: return TimerKind::time_wait;
    case 4: return TimerKind::zero_window_probe;
    default: return TimerKind::unknown;
  }
}

// ss's cut for "no ssthresh yet": the kernel's TCP_INFINITE_SSTHRESH (0x7fffffff) and any
// value no real window reaches.
constexpr uint32_t kSsthreshUnset = 0xFFFF;

TcpInfoSummary summarize(const uint8_t* p, size_t len) {
  tcp_info ti{};
  std::memcpy(&ti, p, std::min(len, sizeof ti));  // older or newer kernels send other sizes
  TcpInfoSummary s;
  s.rtt_us = ti.tcpi_rtt;
  s.rttvar_us = ti.tcpi_rttvar;
  s.rto_us = ti.tcpi_rto;
  s.cwnd = ti.tcpi_snd_cwnd;
  s.ssthresh = ti.tcpi_snd_ssthresh >= kSsthreshUnset ? 0 : ti.tcpi_snd_ssthresh;
  s.mss = ti.tcpi_snd_mss;
  s.retrans = ti.tcpi_retrans;
  s.total_retrans = ti.tcpi_total_retrans;
  s.unacked = ti.tcpi_unacked;
  s.lost = ti.tcpi_lost;
  s.bytes_acked = ti.tcpi_bytes_acked;
  s.bytes_received = ti.tcpi_bytes_received;
  return s;
}

// One inet_diag_msg payload (with its attributes) into a record.
bool decode_one(const uint8_t* p, size_t len, SocketRecord& s, const InterfaceNamer& namer) {
  if (len < sizeof(inet_diag_msg)) return false;
  const auto m = load<inet_diag_msg>(p);
  const auto state = state_from_kernel(m.idiag_state);
  if (!state || (m.idiag_family != AF_INET && m.idiag_family != AF_INET6)) return false;
  s.state = *state;
  if (m.idiag_family == AF_INET) {
    s.local = IpAddress::from_v4(reinterpret_cast<const uint8_t*>(m.id.idiag_src));
    s.remote = IpAddress::from_v4(reinterpret_cast<const uint8_t*>(m.id.idiag_dst));
  } else {
    s.local = IpAddress::from_v6(reinterpret_cast<const uint8_t*>(m.id.idiag_src));
    s.remote = IpAddress::from_v6(reinterpret_cast<const uint8_t*>(m.id.idiag_dst));
  }
  s.local_port = ntohs(m.id.idiag_sport);
  s.remote_port = ntohs(m.id.idiag_dport);
  if (m.id.idiag_if) s.interface = namer ? namer(m.id.idiag_if) : "if" + std::to_string(m.id.idiag_if);
  s.recv_q = m.idiag_rqueue;
  s.send_q = m.idiag_wqueue;
  s.timer = timer_kind(m.idiag_timer);
  if (s.timer != TimerKind::none) s.timer_ms = m.idiag_expires;
  s.retransmits = m.idiag_retrans;
  s.uid = m.idiag_uid;
  s.inode = m.idiag_inode;
  size_t off = align4(sizeof(inet_diag_msg));
  while (off + sizeof(rtattr) <= len) {
    const auto a = load<rtattr>(p + off);
    if (a.rta_len < sizeof(rtattr) || a.rta_len > len - off) break;
    if (a.rta_type == INET_DIAG_INFO) s.info = summarize(p + off + RTA_LENGTH(0), a.rta_len - RTA_LENGTH(0));
    off += align4(a.rta_len);
  }
  return true;
}

// The kernel's bytecode is a row of 4-byte ops; `yes` and `no` are jumps in bytes from the
// op's own start. A port comparison takes two ops (the second holds the port).
constexpr size_t kOpBytes = sizeof(inet_diag_bc_op);
constexpr size_t kPortTestBytes = 2 * kOpBytes;
constexpr size_t kLocalRangeBytes = 2 * kPortTestBytes;  // sport >= low, sport <= high
// Jump targets: the next test; past a comparison and the JMP after it (the next `or`); one op
// past the end, which rejects.
constexpr uint8_t kToNextTest = kPortTestBytes;
constexpr uint16_t kToNextAlternative = kPortTestBytes + kOpBytes;
constexpr uint16_t kPastEnd = kOpBytes;

void put_op(std::string& out, uint8_t code, uint8_t yes, uint16_t no) {
  const inet_diag_bc_op op{code, yes, no};
  out.append(reinterpret_cast<const char*>(&op), sizeof op);
}

// A port comparison: the op, then the port in a second op's `no` (the kernel's layout).
void put_port(std::string& out, uint8_t code, uint8_t yes, uint16_t no, uint16_t port) {
  put_op(out, code, yes, no);
  put_op(out, 0, 0, port);
}

// "sport in [low, high] and (dport == p1 or dport == p2 ...)". The kernel runs the program by
// jumping `yes` or `no` bytes; landing exactly at the end accepts, one op past it rejects. Its
// audit walks the `yes` chain, so each `or` is a JMP that the chain steps over (as ss builds it).
std::string port_bytecode(const SockDiagQuery& q) {
  const size_t n = q.remote_ports.size() <= kMaxFilteredRemotePorts ? q.remote_ports.size() : 0;
  const size_t len = (q.local_ports ? kLocalRangeBytes : 0) + (n ? n * kPortTestBytes + (n - 1) * kOpBytes : 0);
  std::string bc;
  auto rest = [&] { return len - bc.size(); };
  auto reject = [&] { return static_cast<uint16_t>(rest() + kPastEnd); };
  if (q.local_ports) {
    put_port(bc, INET_DIAG_BC_S_GE, kToNextTest, reject(), q.local_ports->first);
    put_port(bc, INET_DIAG_BC_S_LE, kToNextTest, reject(), q.local_ports->second);
  }
  for (size_t i = 0; i < n; ++i) {
    const bool last = i + 1 == n;
    put_port(bc, INET_DIAG_BC_D_EQ, kToNextTest, last ? reject() : kToNextAlternative, q.remote_ports[i]);
    if (!last) put_op(bc, INET_DIAG_BC_JMP, kOpBytes, static_cast<uint16_t>(rest()));  // matched: to the end
  }
  return bc;
}

// Every inet_diag request: the netlink header, then the body (a dump adds NLM_F_DUMP).
template <class Body>
std::string diag_request(uint16_t type, uint16_t flags, uint32_t sequence, const Body& body) {
  struct {
    nlmsghdr h;
    Body r;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  req.h.nlmsg_seq = sequence;
  req.r = body;
  return std::string(reinterpret_cast<const char*>(&req), sizeof req);
}

}  // namespace

SockDiagDecode decode_sock_diag(std::span<const uint8_t> bytes, const SocketSink& sink, const InterfaceNamer& namer) {
  SockDiagDecode out;
  size_t off = 0;
  while (off + sizeof(nlmsghdr) <= bytes.size()) {
    const auto h = load<nlmsghdr>(bytes.data() + off);
    if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > bytes.size() - off) {
      ++out.malformed;
      break;
    }
    const uint8_t* payload = bytes.data() + off + NLMSG_HDRLEN;
    const size_t payload_len = h.nlmsg_len - NLMSG_HDRLEN;
    if (h.nlmsg_type == NLMSG_DONE) {
      ++out.done;
    } else if (h.nlmsg_type == NLMSG_ERROR) {
      out.error = netlink_errno(payload, payload_len);
      if (out.error == 0) out.error = EPROTO;  // an acknowledgement where a dump was asked for
      ++out.done;
    } else if (h.nlmsg_type == SOCK_DIAG_BY_FAMILY || h.nlmsg_type == TCPDIAG_GETSOCK) {
      SocketRecord s;
      if (decode_one(payload, payload_len, s, namer)) {
        ++out.sockets;
        if (!sink(s)) {
          out.stopped = true;
          return out;
        }
      } else {
        ++out.malformed;
      }
    }
    off += align4(h.nlmsg_len);
  }
  return out;
}

std::string build_sock_diag_request(int family, const SockDiagQuery& query, uint32_t sequence) {
  // idiag_ext asks for attribute k with bit k - 1 (the kernel's convention).
  const uint8_t ext = query.tcp_info ? 1 << (INET_DIAG_INFO - 1) : 0;
  std::string out;
  if (family == AF_UNSPEC) {
    // The older TCPDIAG_GETSOCK request: the kernel answers for both families in one walk.
    inet_diag_req r{};
    r.idiag_states = query.states.kernel_mask();
    r.idiag_ext = ext;
    out = diag_request(TCPDIAG_GETSOCK, NLM_F_DUMP, sequence, r);
  } else {
    inet_diag_req_v2 r{};
    r.sdiag_family = static_cast<uint8_t>(family);
    r.sdiag_protocol = IPPROTO_TCP;
    r.idiag_states = query.states.kernel_mask();
    r.idiag_ext = ext;
    out = diag_request(SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, sequence, r);
  }
  const std::string bc = query.local_ports || !query.remote_ports.empty() ? port_bytecode(query) : "";
  if (!bc.empty()) {
    const uint32_t len = static_cast<uint32_t>(out.size() + RTA_SPACE(bc.size()));
    std::memcpy(out.data() + offsetof(nlmsghdr, nlmsg_len), &len, sizeof len);
    rtattr a{};
    a.rta_len = static_cast<unsigned short>(RTA_LENGTH(bc.size()));
    a.rta_type = INET_DIAG_REQ_BYTECODE;
    out.append(reinterpret_cast<const char*>(&a), sizeof a);
    out += bc;  // a multiple of 4: no padding
  }
  return out;
}

std::string build_sock_diag_lookup(const SockDiagLookup& id, uint32_t sequence) {
  inet_diag_req_v2 r{};
  r.sdiag_family = id.local.is_v4() ? AF_INET : AF_INET6;
  r.sdiag_protocol = IPPROTO_TCP;
  r.idiag_states = ~0u;
  r.id.idiag_if = id.interface_index;
  r.id.idiag_sport = htons(id.local_port);
  r.id.idiag_dport = htons(id.remote_port);
  std::memcpy(r.id.idiag_src, id.local.data(), id.local.size());
  std::memcpy(r.id.idiag_dst, id.remote.data(), id.remote.size());
  r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  return diag_request(SOCK_DIAG_BY_FAMILY, 0, sequence, r);
}

Result<UniqueFd> open_sock_diag() {
  UniqueFd socket(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!socket.valid()) return fail_errno("cannot open a NETLINK_SOCK_DIAG socket", errno);
  return socket;
}

bool send_to_kernel(int fd, const std::string& request) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  return ::sendto(fd, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) >= 0;
}

Result<SockDiagStats> dump_tcp_sockets(const SockDiagQuery& query, const SocketSink& sink,
                                       const std::function<void(std::span<const uint8_t>)>& raw_tap) {
  auto socket = open_sock_diag();
  if (!socket) return tl::unexpected(socket.error());
  const int fd = socket->get();

  std::unordered_map<uint32_t, std::string> names;
  const InterfaceNamer namer = [&names](uint32_t index) -> std::string {
    auto it = names.find(index);
    if (it != names.end()) return it->second;
    char buf[IF_NAMESIZE] = {};
    std::string name = ::if_indextoname(index, buf) ? std::string(buf) : "if" + std::to_string(index);
    names.emplace(index, name);
    return name;
  };

  SockDiagStats stats;
  // The kernel fills at most about 32 KiB per read of a dump; a larger buffer costs nothing.
  constexpr size_t kDumpBuffer = size_t{64} * 1024;
  std::vector<uint8_t> buffer(kDumpBuffer);
  uint32_t sequence = 0;
  // Each request makes the kernel walk every TCP socket of the host (all namespaces); with
  // both families, one TCPDIAG_GETSOCK walk answers for both, where ss walks twice. A kernel
  // that refuses it before the first socket gets the per-family requests.
  std::vector<int> families;
  if (query.v4 && query.v6) families = {AF_UNSPEC};
  else if (query.v4) families = {AF_INET};
  else if (query.v6) families = {AF_INET6};
  for (size_t fi = 0; fi < families.size(); ++fi) {
    const int family = families[fi];
    const std::string request = build_sock_diag_request(family, query, ++sequence);
    if (!send_to_kernel(fd, request)) return fail_errno("cannot send the sock_diag request", errno);
    for (;;) {
      const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail_errno("cannot read the sock_diag dump", errno);
      }
      if (n == 0) return fail(ErrorCode::system, "the sock_diag dump ended early");
      const std::span<const uint8_t> chunk(buffer.data(), static_cast<size_t>(n));
      stats.bytes += chunk.size();
      if (raw_tap) raw_tap(chunk);
      const auto d = decode_sock_diag(chunk, sink, namer);
      stats.sockets += d.sockets;
      if (d.stopped) return stats;
      if (d.error) {
        if (family == AF_INET6 && d.error == ENOENT) break;  // no IPv6 in this kernel
        if (family == AF_UNSPEC && stats.sockets == 0 && d.sockets == 0) {
          families.insert(families.end(), {AF_INET, AF_INET6});
          break;
        }
        return fail_errno("the kernel refused the sock_diag request", d.error);
      }
      if (d.malformed) return fail(ErrorCode::system, "malformed sock_diag message from the kernel");
      if (d.done) break;
    }
  }
  return stats;
}

}  // namespace tcpkit
