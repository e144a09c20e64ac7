// Crafting and decoding of TCP segments, both by hand: received bytes are untrusted, and
// libtins' parser throws on odd but legal packets (see DESIGN.md); crafting, see below.
#include "tcpkit/wire/segment.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "wire/wire_bytes.hpp"

namespace tcpkit {

std::string flags_compact(uint8_t flags) {
  // tcpdump order: F S R P U E W, and '.' for ACK.
  std::string out;
  if (flags & tcp_flag::fin) out += 'F';
  if (flags & tcp_flag::syn) out += 'S';
  if (flags & tcp_flag::rst) out += 'R';
  if (flags & tcp_flag::psh) out += 'P';
  if (flags & tcp_flag::urg) out += 'U';
  if (flags & tcp_flag::ece) out += 'E';
  if (flags & tcp_flag::cwr) out += 'W';
  if (flags & tcp_flag::ack) out += '.';
  return out.empty() ? "none" : out;
}

std::string flags_names(uint8_t flags) {
  static const std::pair<uint8_t, const char*> names[] = {
      {tcp_flag::syn, "SYN"}, {tcp_flag::fin, "FIN"}, {tcp_flag::rst, "RST"}, {tcp_flag::psh, "PSH"},
      {tcp_flag::ack, "ACK"}, {tcp_flag::urg, "URG"}, {tcp_flag::ece, "ECE"}, {tcp_flag::cwr, "CWR"}};
  std::string out;
  for (const auto& [bit, name] : names)
    if (flags & bit) out += (out.empty() ? "" : "+") + std::string(name);
  return out.empty() ? "NULL" : out;
}

Result<uint8_t> parse_flags(std::string_view text) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::bad_input, "invalid TCP flags '" + std::string(text) + "': " + why);
  };
  if (lower.empty()) return bad("empty");
  if (lower == "null" || lower == "none") return uint8_t{0};
  if (lower == "xmas") return uint8_t(tcp_flag::fin | tcp_flag::psh | tcp_flag::urg);
  static const std::pair<const char*, uint8_t> words[] = {
      {"fin", tcp_flag::fin}, {"syn", tcp_flag::syn}, {"rst", tcp_flag::rst}, {"psh", tcp_flag::psh},
      {"ack", tcp_flag::ack}, {"urg", tcp_flag::urg}, {"ece", tcp_flag::ece}, {"cwr", tcp_flag::cwr}};
  uint8_t flags = 0;
  const bool one_word = std::any_of(std::begin(words), std::end(words), [&](const auto& w) { return lower == w.first; });
  if (one_word || lower.find_first_of(",+| ") != std::string::npos) {
    size_t start = 0;
    while (start <= lower.size()) {
      const size_t end = std::min(lower.find_first_of(",+| ", start), lower.size());
      const std::string word = lower.substr(start, end - start);
      const auto it = std::find_if(std::begin(words), std::end(words), [&](const auto& w) { return word == w.first; });
      if (it == std::end(words)) return bad("unknown flag '" + word + "' (use fin,syn,rst,psh,ack,urg,ece,cwr)");
      flags |= it->second;
      start = end + 1;
    }
    return flags;
  }
  // Letters as hping3 and nmap spell them: F S R P A U E C.
  for (char c : lower) {
    switch (c) {
      case 'f': flags |= tcp_flag::fin; break;
      case 's': flags |= tcp_flag::syn; break;
      case 'r': flags |= tcp_flag::rst; break;
      case 'p': flags |= tcp_flag::psh; break;
      case 'a': flags |= tcp_flag::ack; break;
      case 'u': flags |= tcp_flag::urg; break;
      case 'e': flags |= tcp_flag::ece; break;
      case 'c': flags |= tcp_flag::cwr; break;
      default: return bad(std::string("unknown flag letter '") + c + "'");
    }
  }
  return flags;
}

// By hand: a header and its checksums are a few stores, and libtins would cost every tool
// ~2 MB of resident libraries (it drags in libcrypto). The unit tests hold these bytes equal
// to libtins' serialisation of the same segment, and to real kernel segments.
Result<std::vector<uint8_t>> craft_segment(const SegmentSpec& spec) {
  using wire::put16;
  using wire::put32;
  if (spec.src.family() != spec.dst.family())
    return fail(ErrorCode::bad_input, "source and destination are of different address families");
  if (spec.options.needed_bytes() > TcpOptions::kMaxBytes)
    return fail(ErrorCode::bad_input, "TCP options need " + std::to_string(spec.options.needed_bytes()) +
                                          " bytes; at most 40 fit in a header");
  const auto listed = spec.options.bytes();
  std::vector<uint8_t> options(listed.begin(), listed.end());
  options.resize((options.size() + 3) / 4 * 4, 0);  // end-of-list padding
  const bool v4 = spec.dst.is_v4();
  const size_t ip_header = v4 ? 20 : 40;
  const size_t tcp_length = 20 + options.size() + spec.payload.size();
  if (tcp_length + (v4 ? ip_header : 0) > 65535)
    return fail(ErrorCode::bad_input, "segment of " + std::to_string(tcp_length) + " bytes is too long for one IP packet");

  std::vector<uint8_t> packet(ip_header + tcp_length, 0);
  uint8_t* ip = packet.data();
  uint32_t pseudo = 0;  // the pseudo-header's sum: addresses, protocol, TCP length
  if (v4) {
    ip[0] = 0x45;  // version 4, five 32-bit words
    put16(ip + 2, uint16_t(packet.size()));
    put16(ip + 4, spec.ip_id);
    put16(ip + 6, 0x4000);  // don't fragment
    ip[8] = spec.ttl;
    ip[9] = 6;  // TCP
    std::memcpy(ip + 12, spec.src.data(), 4);
    std::memcpy(ip + 16, spec.dst.data(), 4);
    put16(ip + 10, wire::fold(wire::sum_words(ip, 20)));
    pseudo = wire::sum_words(ip + 12, 8);
  } else {
    ip[0] = 0x60;  // version 6; traffic class zero
    ip[1] = uint8_t((spec.flow_label >> 16) & 0x0f);
    put16(ip + 2, uint16_t(spec.flow_label));
    put16(ip + 4, uint16_t(tcp_length));
    ip[6] = 6;  // next header: TCP
    ip[7] = spec.ttl;
    std::memcpy(ip + 8, spec.src.data(), 16);
    std::memcpy(ip + 24, spec.dst.data(), 16);
    pseudo = wire::sum_words(ip + 8, 32);
  }
  pseudo += 6 + uint32_t(tcp_length);

  uint8_t* tcp = ip + ip_header;
  put16(tcp, spec.sport);
  put16(tcp + 2, spec.dport);
  put32(tcp + 4, spec.seq);
  put32(tcp + 8, spec.ack);
  tcp[12] = uint8_t((20 + options.size()) / 4 << 4);
  tcp[13] = spec.flags;
  put16(tcp + 14, spec.window);
  put16(tcp + 18, spec.urgent);
  std::copy(options.begin(), options.end(), tcp + 20);
  std::copy(spec.payload.begin(), spec.payload.end(), tcp + 20 + options.size());
  put16(tcp + 16, wire::fold(wire::sum_words(tcp, tcp_length, pseudo)));
  return packet;
}

// ---------------------------------------------------------------------------------------
// Decoding. Every read goes through a bounds-checked view.

namespace {

using wire::View;

// claimed: bytes of TCP header+payload according to the IP header (may exceed what we have).
bool decode_tcp(View v, size_t claimed, DecodedTcp& out) {
  if (!v.has(0, 20)) return false;
  out.sport = v.u16(0);
  out.dport = v.u16(2);
  out.seq = v.u32(4);
  out.ack = v.u32(8);
  const uint8_t offset = uint8_t((v.u8(12) >> 4) * 4);
  out.flags = v.u8(13);
  out.window = v.u16(14);
  out.urgent = v.u16(18);
  // A header longer than the segment its IP header claims: malformed, the kernel drops it
  // (found read as an answer).
  if (offset < 20 || offset > claimed) return false;
  out.header_length = offset;
  out.payload_length = claimed >= offset ? uint32_t(claimed - offset) : 0;
  const View options = v.from(20).first(offset - 20);
  out.options = TcpOptions::decode(options.data, options.size);
  if (!v.has(0, offset)) out.options.mark_cut_short();  // options cut off by the capture
  return true;
}

constexpr int kMaxExtensionHeaders = 8;

// Walks IPv6 extension headers; returns false on a non-first fragment or garbage.
bool skip_v6_extensions(View v, uint8_t& next, size_t& offset) {
  for (int i = 0; i < kMaxExtensionHeaders; ++i) {
    switch (next) {
      case 0:    // hop-by-hop
      case 43:   // routing
      case 60:   // destination options
        if (!v.has(offset, 8)) return false;
        next = v.u8(offset);
        offset += (size_t(v.u8(offset + 1)) + 1) * 8;
        break;
      case 44:   // fragment
        if (!v.has(offset, 8)) return false;
        if ((v.u16(offset + 2) & 0xfff8) != 0) return false;  // not the first fragment
        next = v.u8(offset);
        offset += 8;
        break;
      case 51:   // authentication header: length in 4-byte units
        if (!v.has(offset, 8)) return false;
        next = v.u8(offset);
        offset += (size_t(v.u8(offset + 1)) + 2) * 4;
        break;
      default:
        return true;
    }
  }
  return false;
}

// The datagram quoted inside an ICMP error: its IP header and the start of its payload.
bool decode_quoted(View v, QuotedDatagram& q) {
  if (!v.has(0, 1)) return false;
  const int version = v.u8(0) >> 4;
  size_t offset = 0;
  if (version == 4) {
    if (!v.has(0, 20)) return false;
    offset = size_t(v.u8(0) & 0x0f) * 4;
    if (offset < 20) return false;
    q.protocol = v.u8(9);
    q.ip_id = v.u16(4);
    q.src = IpAddress::from_v4(v.data + 12);
    q.dst = IpAddress::from_v4(v.data + 16);
  } else if (version == 6) {
    if (!v.has(0, 40)) return false;
    q.src = IpAddress::from_v6(v.data + 8);
    q.dst = IpAddress::from_v6(v.data + 24);
    uint8_t next = v.u8(6);
    offset = 40;
    if (!skip_v6_extensions(v, next, offset)) return true;  // addresses known, ports not
    q.protocol = next;
  } else {
    return false;
  }
  if ((q.protocol == IPPROTO_TCP || q.protocol == IPPROTO_UDP) && v.has(offset, 4)) {
    q.sport = v.u16(offset);
    q.dport = v.u16(offset + 2);
    q.ports_known = true;
    if (q.protocol == IPPROTO_TCP && v.has(offset, 8)) q.seq = v.u32(offset + 4);
    if (q.protocol == IPPROTO_TCP && v.has(offset, 20)) {
      // The options as far as the quote holds them (a TSval cut off is simply not found).
      const size_t header = size_t(v.u8(offset + 12) >> 4) * 4;
      if (header > 20) {
        const size_t held = std::min(header - 20, v.size - offset - 20);
        if (const auto ts = TcpOptions::decode(v.data + offset + 20, held).timestamps()) q.tsval = ts->first;
      }
    }
  }
  return true;
}

bool is_icmp4_error(uint8_t type) { return type == 3 || type == 4 || type == 5 || type == 11 || type == 12; }
bool is_icmp6_error(uint8_t type) { return type >= 1 && type <= 4; }

}  // namespace

std::optional<DecodedPacket> decode_packet(const uint8_t* data, size_t len) {
  if (!data || len == 0) return std::nullopt;
  const View v{data, len};
  DecodedPacket p;
  const int version = v.u8(0) >> 4;
  size_t offset = 0;
  size_t claimed_end = 0;  // end of the IP packet per its header
  bool later_fragment = false;
  if (version == 4) {
    if (!v.has(0, 20)) return std::nullopt;
    offset = size_t(v.u8(0) & 0x0f) * 4;
    const size_t total = v.u16(2);
    if (offset < 20 || total < offset) return std::nullopt;
    p.ttl = v.u8(8);
    p.ip_id = v.u16(4);
    p.protocol = v.u8(9);
    p.src = IpAddress::from_v4(v.data + 12);
    p.dst = IpAddress::from_v4(v.data + 16);
    later_fragment = (v.u16(6) & 0x1fff) != 0;
    claimed_end = total;
  } else if (version == 6) {
    if (!v.has(0, 40)) return std::nullopt;
    p.ttl = v.u8(7);
    p.src = IpAddress::from_v6(v.data + 8);
    p.dst = IpAddress::from_v6(v.data + 24);
    claimed_end = 40 + size_t(v.u16(4));
    uint8_t next = v.u8(6);
    offset = 40;
    if (!skip_v6_extensions(v.first(claimed_end), next, offset)) later_fragment = true;
    p.protocol = next;
  } else {
    return std::nullopt;
  }
  p.ip_length = std::min(claimed_end, len);  // a capture may cut the packet short
  if (later_fragment || offset > claimed_end) return p;  // kind other: nothing above IP to read
  const View body = v.first(claimed_end).from(offset);
  const size_t claimed_body = claimed_end - offset;

  if (p.protocol == IPPROTO_TCP) {
    if (decode_tcp(body, claimed_body, p.tcp)) p.kind = DecodedPacket::Kind::tcp;
  } else if ((version == 4 && p.protocol == IPPROTO_ICMP) || (version == 6 && p.protocol == IPPROTO_ICMPV6)) {
    if (!body.has(0, 8)) return p;
    const uint8_t type = body.u8(0);
    const bool error = version == 4 ? is_icmp4_error(type) : is_icmp6_error(type);
    if (error && decode_quoted(body.from(8), p.icmp.quoted)) {
      p.kind = DecodedPacket::Kind::icmp_error;
      p.icmp.v6 = version == 6;
      p.icmp.type = type;
      p.icmp.code = body.u8(1);
      const uint32_t mtu = version == 4 ? (type == 3 && p.icmp.code == 4 ? body.u16(6) : 0)
                                        : (type == 2 ? body.u32(4) : 0);
      if (mtu) p.icmp.mtu = mtu;
    }
  }
  return p;
}

std::string icmp_description(bool v6, uint8_t type, uint8_t code) {
  if (!v6) {
    if (type == 3) {
      static const char* const unreach[] = {"net unreachable", "host unreachable", "protocol unreachable",
                                            "port unreachable", "fragmentation needed", "source route failed",
                                            "destination network unknown", "destination host unknown",
                                            "source host isolated", "network administratively prohibited",
                                            "host administratively prohibited", "network unreachable for TOS",
                                            "host unreachable for TOS", "communication administratively prohibited",
                                            "host precedence violation", "precedence cutoff in effect"};
      return code < std::size(unreach) ? unreach[code] : "destination unreachable (code " + std::to_string(code) + ")";
    }
    if (type == 11) return code == 0 ? "TTL exceeded in transit" : "fragment reassembly time exceeded";
    if (type == 12) return "parameter problem";
    if (type == 4) return "source quench";
    if (type == 5) return "redirect";
    return "ICMP type " + std::to_string(type) + " code " + std::to_string(code);
  }
  if (type == 1) {
    static const char* const unreach[] = {"no route to destination", "communication administratively prohibited",
                                          "beyond scope of source address", "address unreachable", "port unreachable",
                                          "source address failed ingress/egress policy", "reject route to destination"};
    return code < std::size(unreach) ? unreach[code] : "destination unreachable (code " + std::to_string(code) + ")";
  }
  if (type == 2) return "packet too big";
  if (type == 3) return code == 0 ? "hop limit exceeded in transit" : "fragment reassembly time exceeded";
  if (type == 4) return "parameter problem";
  return "ICMPv6 type " + std::to_string(type) + " code " + std::to_string(code);
}

namespace {
IcmpMeaning meaning_of_code(bool v6, uint8_t type, uint8_t code) {
  if (!v6 && type == 3) {
    switch (code) {
      case 0: case 1: case 6: case 7: case 11: case 12: return IcmpMeaning::host_unreachable;
      case 3: return IcmpMeaning::port_unreachable;
      case 9: case 10: case 13: case 14: case 15: return IcmpMeaning::refused;
      default: return IcmpMeaning::other;
    }
  }
  if (v6 && type == 1) {
    switch (code) {
      case 0: case 3: return IcmpMeaning::host_unreachable;
      case 4: return IcmpMeaning::port_unreachable;
      case 1: case 5: case 6: return IcmpMeaning::refused;
      default: return IcmpMeaning::other;
    }
  }
  return IcmpMeaning::other;
}
}  // namespace

IcmpMeaning icmp_meaning(bool v6, uint8_t type, uint8_t code, bool from_target) {
  const IcmpMeaning meaning = meaning_of_code(v6, type, code);
  return from_target && meaning == IcmpMeaning::host_unreachable ? IcmpMeaning::refused : meaning;
}

std::string DecodedIcmpError::description() const { return icmp_description(v6, type, code); }

}  // namespace tcpkit
