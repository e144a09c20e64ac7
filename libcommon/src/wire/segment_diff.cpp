// The diff of a quoted SYN against the one we sent, by reading both with bounds checks: the
// quote comes from a router and is untrusted.
#include "tcpkit/wire/segment_diff.hpp"

#include <netinet/in.h>

#include <algorithm>

#include "tcpkit/wire/segment.hpp"

namespace tcpkit {

namespace {

// A bounds-checked reader over one side's bytes.
struct Bytes {
  std::span<const uint8_t> s;
  bool has(size_t offset, size_t n) const { return offset <= s.size() && n <= s.size() - offset; }
  uint32_t u8(size_t o) const { return s[o]; }
  uint32_t u16(size_t o) const { return uint32_t(s[o] << 8 | s[o + 1]); }
  uint32_t u32(size_t o) const { return u16(o) << 16 | u16(o + 2); }
};

// Where the TCP header starts, for an IP datagram with no IPv6 extension header; 0 when the
// bytes are not TCP over IPv4/IPv6.
size_t tcp_offset(const Bytes& b, int& version) {
  if (!b.has(0, 1)) return 0;
  version = int(b.u8(0) >> 4);
  if (version == 4 && b.has(0, 20) && b.u8(9) == IPPROTO_TCP && (b.u8(0) & 0x0f) >= 5) return size_t(b.u8(0) & 0x0f) * 4;
  if (version == 6 && b.has(0, 40) && b.u8(6) == IPPROTO_TCP) return 40;
  return 0;
}

struct Field {
  SegmentField field;
  size_t offset, size;  // bytes in the header that hold it
  uint32_t mask;        // of the value read from those bytes
  int shift;
};

std::string value_text(SegmentField field, uint32_t value) {
  if (field == SegmentField::flags) return flags_compact(uint8_t(value));
  if (field == SegmentField::df) return value ? "set" : "clear";
  return std::to_string(value);
}

void compare(const Bytes& sent, size_t sent_at, const Bytes& seen, size_t seen_at, const Field& f, SegmentDiff& out) {
  if (!seen.has(seen_at + f.offset, f.size)) {
    out.partial.push_back(f.field);
    return;
  }
  auto read = [&](const Bytes& b, size_t at) {
    const size_t o = at + f.offset;
    const uint32_t raw = f.size == 1 ? b.u8(o) : f.size == 2 ? b.u16(o) : f.size == 3 ? (b.u16(o) << 8 | b.u8(o + 2)) : b.u32(o);
    return (raw >> f.shift) & f.mask;
  };
  const uint32_t before = read(sent, sent_at), after = read(seen, seen_at);
  if (before != after) out.changes.push_back(FieldChange{f.field, value_text(f.field, before), value_text(f.field, after), {}});
}

}  // namespace

const char* field_name(SegmentField field) {
  switch (field) {
    case SegmentField::dscp: return "dscp";
    case SegmentField::ecn: return "ecn";
    case SegmentField::ip_id: return "ip_id";
    case SegmentField::df: return "df";
    case SegmentField::flow_label: return "flow_label";
    case SegmentField::sport: return "sport";
    case SegmentField::dport: return "dport";
    case SegmentField::seq: return "seq";
    case SegmentField::ack: return "ack";
    case SegmentField::flags: return "flags";
    case SegmentField::window: return "window";
    case SegmentField::urgent: return "urgent";
    case SegmentField::options: return "options";
  }
  return "?";
}

std::string to_string(const FieldChange& change) {
  if (change.option) return to_string(*change.option);
  return std::string(field_name(change.field)) + " " + change.before + " -> " + change.after;
}

std::optional<SegmentDiff> diff_quoted_segment(std::span<const uint8_t> sent_bytes, std::span<const uint8_t> quoted) {
  const Bytes sent{sent_bytes}, seen{quoted};
  int sent_version = 0, seen_version = 0;
  const size_t sent_tcp = tcp_offset(sent, sent_version);
  const size_t seen_tcp = tcp_offset(seen, seen_version);
  if (sent_tcp == 0 || seen_tcp == 0 || sent_version != seen_version || !sent.has(sent_tcp, 20)) return std::nullopt;
  const size_t sent_header = size_t(sent.u8(sent_tcp + 12) >> 4) * 4;
  if (sent_header < 20 || !sent.has(sent_tcp, sent_header)) return std::nullopt;

  SegmentDiff out;
  out.quoted_bytes = quoted.size();
  using F = SegmentField;
  if (sent_version == 4) {
    for (const Field& f : {Field{F::dscp, 1, 1, 0x3f, 2}, Field{F::ecn, 1, 1, 0x3, 0}, Field{F::ip_id, 4, 2, 0xffff, 0},
                           Field{F::df, 6, 1, 0x1, 6}})
      compare(sent, 0, seen, 0, f, out);
  } else {
    // Traffic class: the low nibble of byte 0 and the high nibble of byte 1.
    for (const Field& f : {Field{F::dscp, 0, 2, 0x3f, 6}, Field{F::ecn, 0, 2, 0x3, 4}, Field{F::flow_label, 1, 3, 0xfffff, 0}})
      compare(sent, 0, seen, 0, f, out);
  }
  for (const Field& f : {Field{F::sport, 0, 2, 0xffff, 0}, Field{F::dport, 2, 2, 0xffff, 0}, Field{F::seq, 4, 4, 0xffffffff, 0},
                         Field{F::ack, 8, 4, 0xffffffff, 0}, Field{F::flags, 13, 1, 0xff, 0}, Field{F::window, 14, 2, 0xffff, 0},
                         Field{F::urgent, 18, 2, 0xffff, 0}})
    compare(sent, sent_tcp, seen, seen_tcp, f, out);

  // Options: only when the quote holds the quoted header's every option byte.
  if (!seen.has(seen_tcp + 12, 1)) {
    out.partial.push_back(F::options);
    return out;
  }
  const size_t seen_header = size_t(seen.u8(seen_tcp + 12) >> 4) * 4;
  if (seen_header < 20 || !seen.has(seen_tcp, seen_header)) {
    out.partial.push_back(F::options);
    return out;
  }
  const TcpOptions before = TcpOptions::decode(sent_bytes.data() + sent_tcp + 20, sent_header - 20);
  const TcpOptions after = TcpOptions::decode(quoted.data() + seen_tcp + 20, seen_header - 20);
  for (const OptionChange& c : diff_options(before, after)) out.changes.push_back(FieldChange{F::options, c.before, c.after, c});
  return out;
}

IcmpErrorMessage icmp_error_message(std::span<const uint8_t> packet) {
  const Bytes b{packet};
  if (!b.has(0, 1)) return {};
  const uint32_t version = b.u8(0) >> 4;
  size_t icmp = 0;
  bool v6 = false;
  if (version == 4 && b.has(0, 20) && b.u8(9) == IPPROTO_ICMP) {
    icmp = size_t(b.u8(0) & 0x0f) * 4;
    if (icmp < 20 || !b.has(icmp, 8)) return {};
    const uint32_t type = b.u8(icmp);
    if (type != 3 && type != 11 && type != 12) return {};
  } else if (version == 6 && b.has(0, 48) && b.u8(6) == IPPROTO_ICMPV6) {
    icmp = 40;
    v6 = true;
    const uint32_t type = b.u8(icmp);
    if (type < 1 || type > 4) return {};
  } else {
    return {};
  }
  // The IP header's length bounds the packet (a capture may hold trailing padding).
  const size_t claimed = std::min(size_t(v6 ? 40 + b.u16(4) : b.u16(2)), packet.size());
  if (claimed < icmp + 8) return {};
  return {packet.subspan(icmp, claimed - icmp), v6};
}

std::span<const uint8_t> icmp_error_quote(std::span<const uint8_t> packet) {
  const IcmpErrorMessage m = icmp_error_message(packet);
  if (m.message.empty()) return {};
  // RFC 4884 length of the original datagram: 32-bit words (ICMPv4, byte 5) or 64-bit words
  // (ICMPv6 destination unreachable and time exceeded, byte 4).
  const uint8_t type = m.message[0];
  const size_t words = m.v6 ? (type == 1 || type == 3 ? m.message[4] : 0) : m.message[5];
  const size_t unit = m.v6 ? 8 : 4;
  std::span<const uint8_t> quote = m.message.subspan(8);
  if (words != 0 && words * unit < quote.size()) quote = quote.first(words * unit);
  return quote;
}

}  // namespace tcpkit
