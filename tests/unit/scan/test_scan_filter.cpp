// The scanner's hand-built BPF, run by the kernel itself: a filter attached to an AF_UNIX
// datagram socket sees each datagram as its packet, so no privilege is needed. Every verdict
// must equal the one of pcap's program for the same expression.
#include <catch2/catch.hpp>

#include <linux/filter.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>

#include "tcpkit/scan/scan_filter.hpp"
#include "tcpkit/wire/segment.hpp"

using namespace tcpkit;

namespace {
class FilterSocket {
 public:
  explicit FilterSocket(std::vector<BpfInstruction> program) {
    REQUIRE(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds_) == 0);
    sock_fprog fprog{static_cast<unsigned short>(program.size()), reinterpret_cast<sock_filter*>(program.data())};
    attached_ = ::setsockopt(fds_[1], SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) == 0;
  }
  ~FilterSocket() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  FilterSocket(const FilterSocket&) = delete;
  FilterSocket& operator=(const FilterSocket&) = delete;
  bool attached() const { return attached_; }
  // The length the filter let through, or -1 when it dropped the packet.
  long passes(const std::vector<uint8_t>& packet) {
    REQUIRE(::send(fds_[0], packet.data(), packet.size(), 0) == ssize_t(packet.size()));
    uint8_t buf[2048];
    const ssize_t n = ::recv(fds_[1], buf, sizeof buf, MSG_DONTWAIT);
    return n;
  }

 private:
  int fds_[2] = {-1, -1};
  bool attached_ = false;
};

std::vector<uint8_t> tcp(const char* src, const char* dst, uint16_t dport) {
  SegmentSpec s;
  s.src = *IpAddress::parse(src);
  s.dst = *IpAddress::parse(dst);
  s.sport = 443;
  s.dport = dport;
  s.flags = tcp_flag::syn | tcp_flag::ack;
  return *craft_segment(s);
}

// An IPv4 header of 20 bytes, then payload, with the given protocol.
std::vector<uint8_t> ipv4(uint8_t protocol, std::vector<uint8_t> payload, uint16_t fragment = 0) {
  std::vector<uint8_t> p = {0x45, 0, 0, uint8_t(20 + payload.size()), 0, 1, uint8_t(fragment >> 8), uint8_t(fragment),
                            64,   protocol, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1};
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

std::vector<uint8_t> ipv6(uint8_t next, std::vector<uint8_t> payload) {
  std::vector<uint8_t> p(40, 0);
  p[0] = 0x60;
  p[5] = uint8_t(payload.size());
  p[6] = next;
  p[7] = 64;
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}
}  // namespace

TEST_CASE("the scanner's filter accepts replies to its ports and every ICMP message") {
  const uint16_t lo = 61000, hi = 61008;
  FilterSocket ours(scan_reply_filter(lo, hi, 160));
  REQUIRE(ours.attached());  // the kernel's checker accepts the program
  for (uint16_t port : {lo, uint16_t(lo + 4), hi}) {
    INFO("port " << port);
    CHECK(ours.passes(tcp("10.0.0.2", "10.0.0.1", port)) == 40);
    CHECK(ours.passes(tcp("2001:db8::2", "2001:db8::1", port)) == 60);
  }
  for (uint16_t port : {uint16_t(lo - 1), uint16_t(hi + 1), uint16_t(80), uint16_t(65535)}) {
    INFO("port " << port);
    CHECK(ours.passes(tcp("10.0.0.2", "10.0.0.1", port)) == -1);
    CHECK(ours.passes(tcp("2001:db8::2", "2001:db8::1", port)) == -1);
  }
  // IPv4 options move the TCP header: the port is read behind them.
  auto with_options = tcp("10.0.0.2", "10.0.0.1", lo);
  with_options.insert(with_options.begin() + 20, {1, 1, 1, 0});
  with_options[0] = 0x46;
  CHECK(ours.passes(with_options) == 44);
  std::vector<uint8_t> quoted(28, 0);
  CHECK(ours.passes(ipv4(1, quoted)) == 48);                       // ICMP
  CHECK(ours.passes(ipv4(17, quoted)) == -1);                      // UDP
  CHECK(ours.passes(ipv4(6, {0xee, 0x48, 0xee, 0x48}, 0x0010)) == -1);  // a later fragment
  CHECK(ours.passes(ipv6(58, quoted)) == 68);                      // ICMPv6
  CHECK(ours.passes(ipv6(44, {58, 0, 0, 0, 0, 0, 0, 0})) == 48);   // ICMPv6 behind a fragment header
  CHECK(ours.passes(ipv6(17, quoted)) == -1);
  CHECK(ours.passes({0x50, 0, 0, 0}) == -1);  // neither IPv4 nor IPv6
  CHECK(ours.passes({0x45}) == -1);           // too short to read
  // Long packets are cut to the snap length.
  auto big = ipv4(1, std::vector<uint8_t>(400, 0));
  CHECK(ours.passes(big) == 160);
}

TEST_CASE("the scanner's filter judges every packet the way pcap's program does") {
  for (const auto& [lo, hi] : {std::pair<uint16_t, uint16_t>{61000, 61000}, {61000, 61020}, {1, 65535}}) {
    auto pcap = compile_filter("(tcp dst portrange " + std::to_string(lo) + "-" + std::to_string(hi) +
                                   ") or icmp or icmp6",
                               160);
    REQUIRE(pcap);
    FilterSocket theirs(*pcap), ours(scan_reply_filter(lo, hi, 160));
    REQUIRE(theirs.attached());
    REQUIRE(ours.attached());
    std::mt19937 rng(lo * 31 + hi);
    int accepted = 0;
    for (int i = 0; i < 3000; ++i) {
      // Random bytes shaped enough to reach every branch: a version, a protocol and ports near
      // the range, sometimes an IPv4 fragment offset or options, sometimes too short.
      std::vector<uint8_t> p(size_t(rng() % 80 + 1));
      for (auto& b : p) b = uint8_t(rng());
      const bool v6 = rng() % 2;
      if (p.size() > 0) p[0] = uint8_t((v6 ? 0x60 : 0x40) | (v6 ? 0 : 5 + rng() % 3));
      const uint8_t protocols[] = {6, 6, 6, 1, 58, 44, 17};
      const uint8_t protocol = protocols[rng() % 7];
      if (!v6 && p.size() > 9) p[9] = protocol;
      if (v6 && p.size() > 6) p[6] = protocol;
      if (v6 && p.size() > 40 && rng() % 2) p[40] = protocols[rng() % 7];
      if (!v6 && p.size() > 7 && rng() % 3) p[6] = p[7] = 0;  // no fragment offset
      const uint16_t port = uint16_t(lo + int(rng() % 7) - 3);
      const size_t at = v6 ? 42 : size_t(p[0] & 0x0f) * 4 + 2;
      if (p.size() > at + 1) {
        p[at] = uint8_t(port >> 8);
        p[at + 1] = uint8_t(port);
      }
      INFO("packet " << i << " of " << p.size() << " bytes, range " << lo << "-" << hi);
      const long verdict = ours.passes(p);
      REQUIRE(verdict == theirs.passes(p));
      accepted += verdict >= 0;
    }
    CHECK(accepted > 300);   // both branches were exercised
    CHECK(accepted < 2700);
  }
}
