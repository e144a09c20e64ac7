// The segment decoder (IPv4, IPv6 with extension headers, TCP options, ICMP and ICMPv6 errors
// and the datagram they quote) on arbitrary bytes. Beyond "no crash": lengths stay within the
// input, and a decoded TCP segment crafted again from its fields decodes to the same fields
// (its options the same ordered list).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_check.hpp"
#include "segment_spec.hpp"
#include "tcpkit/wire/segment.hpp"

using namespace tcpkit;

namespace {

void check_reencode(const DecodedPacket& p) {
  SegmentSpec spec = tcpkit_test::spec_from(p);
  auto crafted = craft_segment(spec);
  if (!crafted) return;  // more options than a header holds: nothing to compare
  const auto again = decode_packet(crafted->data(), crafted->size());
  FUZZ_CHECK(again && again->kind == DecodedPacket::Kind::tcp);
  FUZZ_CHECK(again->src == p.src && again->dst == p.dst);
  FUZZ_CHECK(again->ttl == p.ttl && again->ip_id == p.ip_id && again->protocol == 6);
  FUZZ_CHECK(again->ip_length == crafted->size());
  const DecodedTcp& t = again->tcp;
  FUZZ_CHECK(t.sport == p.tcp.sport && t.dport == p.tcp.dport && t.seq == p.tcp.seq && t.ack == p.tcp.ack);
  FUZZ_CHECK(t.flags == p.tcp.flags && t.window == p.tcp.window && t.urgent == p.tcp.urgent);
  FUZZ_CHECK(t.payload_length == 0);
  // The list comes back as it was: order, NOPs, unknown kinds and all. A list cut short by the
  // capture may read differently once padded, so only whole ones are compared.
  if (!p.tcp.options.malformed()) FUZZ_CHECK(t.options == p.tcp.options && !t.options.malformed());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy of exactly `size` bytes, so ASan sees any read past the end.
  const std::vector<uint8_t> bytes(data, data + size);
  const auto p = decode_packet(bytes.data(), bytes.size());
  if (!p) return 0;
  FUZZ_CHECK(p->ip_length <= size);  // "capped to what we have" (segment.hpp)
  FUZZ_CHECK(p->src.family() == p->dst.family());
  if (p->kind == DecodedPacket::Kind::tcp) {
    FUZZ_CHECK(p->protocol == 6);
    FUZZ_CHECK(p->tcp.header_length >= 20 && p->tcp.header_length <= 60);
    const TcpOptions& o = p->tcp.options;
    FUZZ_CHECK(o.sack_blocks().size() <= 4);  // 40 option bytes hold at most 4
    FUZZ_CHECK(o.bytes().size() <= size_t(p->tcp.header_length - 20) && o.count() <= o.bytes().size());
    FUZZ_CHECK(TcpOptions::decode(o.bytes().data(), o.bytes().size()) == o || o.malformed());
    FUZZ_CHECK(diff_options(o, o).empty());
    (void)o.to_string();
    (void)o.to_string(OptionText::brief);
    (void)flags_compact(p->tcp.flags);
    (void)flags_names(p->tcp.flags);
    check_reencode(*p);
  } else if (p->kind == DecodedPacket::Kind::icmp_error) {
    FUZZ_CHECK(p->protocol == (p->icmp.v6 ? 58 : 1));
    FUZZ_CHECK(p->icmp.quoted.src.family() == p->icmp.quoted.dst.family());
    FUZZ_CHECK(!p->icmp.quoted.seq || p->icmp.quoted.ports_known);
    FUZZ_CHECK(!p->icmp.description().empty());
  }
  return 0;
}
