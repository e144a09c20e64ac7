// Differential check of the segment decoder against libtins (the unit tests' oracle): on every
// input both parse as TCP over IPv4/IPv6, they must agree on addresses, ports, flags, seq/ack,
// window and the options; on ICMP errors, on type and code. libtins is stricter (it throws on
// odd but legal packets), so an input only libtins rejects is not a disagreement.
#include <tins/tins.h>

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <map>
#include <vector>

#include "fuzz_check.hpp"
#include "tcpkit/wire/segment.hpp"

using namespace tcpkit;

namespace {

IpAddress v4(const Tins::IPv4Address& a) {
  const uint32_t host = Tins::Endian::be_to_host(uint32_t(a));
  return IpAddress::from_v4_host_order(host);
}

IpAddress v6(const Tins::IPv6Address& a) { return IpAddress::from_v6(a.begin()); }

// Compares the options before the first end-of-list (libtins lists options after it; Linux
// and RFC 9293 stop there, and so does our decoder), when each kind appears once among them.
void compare_options(const Tins::TCP& tcp, const TcpOptions& ours) {
  if (ours.malformed()) return;
  std::vector<Tins::TCP::option> before_eol;
  for (const auto& o : tcp.options()) {
    if (o.option() == Tins::TCP::EOL) break;
    before_eol.push_back(o);
  }
  // The list itself: the same options in the same order, with the same bytes (ours may end
  // with the end-of-list itself).
  const size_t listed = ours.count() - (ours.count() > 0 && ours.at(ours.count() - 1).kind == tcp_option::eol ? 1 : 0);
  FUZZ_CHECK(listed == before_eol.size());
  for (size_t i = 0; i < before_eol.size() && i < listed; ++i) {
    const TcpOption mine = ours.at(i);
    FUZZ_CHECK(mine.kind == uint8_t(before_eol[i].option()));
    if (mine.kind != tcp_option::nop)
      FUZZ_CHECK(std::equal(mine.data.begin(), mine.data.end(), before_eol[i].data_ptr(),
                            before_eol[i].data_ptr() + before_eol[i].data_size()));
  }
  std::map<uint8_t, int> seen;
  for (const auto& o : before_eol) ++seen[uint8_t(o.option())];
  for (const auto& [kind, n] : seen)
    if (n > 1 && kind != Tins::TCP::NOP) return;
  try {
    for (const auto& o : before_eol) {
      switch (o.option()) {
        case Tins::TCP::MSS:
          if (o.data_size() == 2) FUZZ_CHECK(ours.mss() == tcp.mss());
          break;
        case Tins::TCP::WSCALE:
          if (o.data_size() == 1) FUZZ_CHECK(ours.window_scale() == tcp.winscale());
          break;
        case Tins::TCP::SACK_OK:
          if (o.data_size() == 0) FUZZ_CHECK(ours.sack_permitted());
          break;
        case Tins::TCP::TSOPT:
          if (o.data_size() == 8) {
            const auto ts = tcp.timestamp();
            FUZZ_CHECK(ours.timestamps() == std::make_pair(ts.first, ts.second));
          }
          break;
        case Tins::TCP::SACK:
          if (o.data_size() % 8 == 0) {
            const auto blocks = tcp.sack();  // left and right edges, in order
            const auto mine = ours.sack_blocks();
            FUZZ_CHECK(blocks.size() == mine.size() * 2);
            for (size_t i = 0; i < mine.size(); ++i)
              FUZZ_CHECK(mine[i].first == blocks[2 * i] && mine[i].second == blocks[2 * i + 1]);
          }
          break;
        default:
          break;
      }
    }
  } catch (const Tins::exception_base&) {
    // libtins refuses an option it listed (a wrong length): nothing to compare.
  }
}

void compare_tcp(const Tins::TCP& tcp, const DecodedPacket& ours) {
  FUZZ_CHECK(ours.kind == DecodedPacket::Kind::tcp);
  FUZZ_CHECK(ours.tcp.sport == tcp.sport() && ours.tcp.dport == tcp.dport());
  FUZZ_CHECK(ours.tcp.seq == tcp.seq() && ours.tcp.ack == tcp.ack_seq());
  FUZZ_CHECK(ours.tcp.flags == uint8_t(tcp.flags()));
  FUZZ_CHECK(ours.tcp.window == tcp.window() && ours.tcp.urgent == tcp.urg_ptr());
  FUZZ_CHECK(ours.tcp.header_length == tcp.data_offset() * 4);
  compare_options(tcp, ours.tcp.options);
}

void compare(const Tins::PDU& ip, const DecodedPacket& ours) {
  if (const auto* p4 = ip.find_pdu<Tins::IP>()) {
    FUZZ_CHECK(ours.src == v4(p4->src_addr()) && ours.dst == v4(p4->dst_addr()));
    FUZZ_CHECK(ours.ttl == p4->ttl() && ours.ip_id == p4->id());
  } else if (const auto* p6 = ip.find_pdu<Tins::IPv6>()) {
    FUZZ_CHECK(ours.src == v6(p6->src_addr()) && ours.dst == v6(p6->dst_addr()));
    FUZZ_CHECK(ours.ttl == p6->hop_limit());
  }
  if (const auto* tcp = ip.find_pdu<Tins::TCP>()) {
    compare_tcp(*tcp, ours);
  } else if (const auto* icmp = ip.find_pdu<Tins::ICMP>(); icmp && ours.kind == DecodedPacket::Kind::icmp_error) {
    FUZZ_CHECK(!ours.icmp.v6 && ours.icmp.type == uint8_t(icmp->type()) && ours.icmp.code == icmp->code());
  } else if (const auto* icmp6 = ip.find_pdu<Tins::ICMPv6>(); icmp6 && ours.kind == DecodedPacket::Kind::icmp_error) {
    FUZZ_CHECK(ours.icmp.v6 && ours.icmp.type == uint8_t(icmp6->type()) && ours.icmp.code == icmp6->code());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  const auto ours = decode_packet(bytes.data(), bytes.size());
  if (size == 0) return 0;
  try {
    const int version = bytes[0] >> 4;
    if (version == 4) {
      const Tins::IP ip(bytes.data(), uint32_t(bytes.size()));
      // libtins reads past what the IP header's total length claims; compare only whole packets.
      if (ip.tot_len() != size || ip.fragment_offset() != 0) return 0;
      FUZZ_CHECK(ours.has_value());
      compare(ip, *ours);
    } else if (version == 6) {
      const Tins::IPv6 ip(bytes.data(), uint32_t(bytes.size()));
      if (size_t(ip.payload_length()) + 40 != size) return 0;
      FUZZ_CHECK(ours.has_value());
      compare(ip, *ours);
    }
  } catch (const Tins::exception_base&) {
    // libtins rejects it: no oracle for this input.
  }
  return 0;
}
