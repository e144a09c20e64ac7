#include "tcpkit/scan/scan_probe.hpp"

#include <cstring>

#include "wire/wire_bytes.hpp"

namespace tcpkit {

using wire::fold;
using wire::put16;
using wire::put32;
using wire::sum_words;

Result<PacketTemplate> PacketTemplate::make(const SegmentSpec& spec) {
  auto bytes = craft_segment(spec);
  if (!bytes) return tl::unexpected(bytes.error());
  PacketTemplate t;
  t.bytes_ = std::move(*bytes);
  t.v6_ = spec.dst.is_v6();
  if (t.v6_) {
    t.tcp_offset_ = 40;
    if (t.bytes_.size() < 60 || t.bytes_[6] != 6)
      return fail(ErrorCode::system, "crafted IPv6 probe has an unexpected layout");
  } else {
    if (t.bytes_.size() < 40) return fail(ErrorCode::system, "crafted IPv4 probe is too short");
    t.tcp_offset_ = size_t(t.bytes_[0] & 0x0f) * 4;
    if (t.tcp_offset_ < 20 || t.bytes_.size() < t.tcp_offset_ + 20)
      return fail(ErrorCode::system, "crafted IPv4 probe has an unexpected layout");
  }
  return t;
}

void PacketTemplate::write(uint8_t* out, const PacketFields& f) const {
  const size_t n = bytes_.size();
  std::memcpy(out, bytes_.data(), n);
  uint8_t* tcp = out + tcp_offset_;
  const size_t tcp_length = n - tcp_offset_;
  put16(tcp, f.sport);
  put16(tcp + 2, f.dport);
  put32(tcp + 4, f.seq);
  put32(tcp + 8, f.ack);
  put16(tcp + 16, 0);
  uint32_t pseudo = 0;
  if (v6_) {
    std::memcpy(out + 24, f.dst.data(), 16);
    pseudo = sum_words(out + 8, 32);  // source and destination
  } else {
    put16(out + 4, f.ip_id);
    std::memcpy(out + 16, f.dst.data(), 4);
    put16(out + 10, 0);
    put16(out + 10, fold(sum_words(out, tcp_offset_)));
    pseudo = sum_words(out + 12, 8);
  }
  pseudo += 6 + uint32_t(tcp_length);  // protocol and TCP length (both fit 16 bits here)
  put16(tcp + 16, fold(sum_words(tcp, tcp_length, pseudo)));
}

const char* to_string(PortState state) {
  switch (state) {
    case PortState::open: return "open";
    case PortState::closed: return "closed";
    case PortState::filtered: return "filtered";
    case PortState::unfiltered: return "unfiltered";
    case PortState::open_filtered: return "open|filtered";
  }
  return "?";
}

const char* to_string(Reason reason) {
  switch (reason) {
    case Reason::syn_ack: return "syn-ack";
    case Reason::syn: return "syn";
    case Reason::reset: return "reset";
    case Reason::icmp_unreachable: return "icmp-unreach";
    case Reason::no_response: return "no-response";
  }
  return "?";
}

ProbeStyle probe_style(uint8_t flags) {
  if (flags & tcp_flag::ack) return ProbeStyle::ack;
  if (flags & tcp_flag::syn) return ProbeStyle::syn;
  return ProbeStyle::fin_like;
}

PortState no_reply_state(ProbeStyle style) {
  return style == ProbeStyle::fin_like ? PortState::open_filtered : PortState::filtered;
}

bool reply_matches_probe(const ProbeNumbers& probe, const DecodedPacket& reply) {
  if (reply.kind == DecodedPacket::Kind::icmp_error) {
    const auto& q = reply.icmp.quoted;
    return q.protocol == 6 && q.ports_known && q.seq && *q.seq == probe.seq;
  }
  if (reply.kind != DecodedPacket::Kind::tcp) return false;
  const auto& t = reply.tcp;
  if (t.flags & tcp_flag::ack) {
    const uint32_t length = ((probe.flags & tcp_flag::syn) ? 1u : 0u) + ((probe.flags & tcp_flag::fin) ? 1u : 0u);
    return t.ack == probe.seq + length;
  }
  // A reset without ACK answers a segment that carried one, with that ACK as its sequence.
  return (t.flags & tcp_flag::rst) && (probe.flags & tcp_flag::ack) && t.seq == probe.ack;
}

std::optional<Verdict> classify_reply(ProbeStyle style, const DecodedPacket& reply) {
  Verdict v;
  if (reply.kind == DecodedPacket::Kind::icmp_error) {
    const auto& icmp = reply.icmp;
    // Destination unreachable: type 3 for ICMP, type 1 for ICMPv6. nmap's filtered codes for
    // IPv4 are 0-3, 9, 10 and 13; the others (fragmentation needed...) say nothing about a port.
    const bool unreachable = icmp.v6 ? icmp.type == 1
                                     : icmp.type == 3 && (icmp.code <= 3 || icmp.code == 9 || icmp.code == 10 ||
                                                          icmp.code == 13);
    if (!unreachable) return std::nullopt;
    v.state = PortState::filtered;
    v.reason = Reason::icmp_unreachable;
    v.icmp_type = icmp.type;
    v.icmp_code = icmp.code;
    v.icmp_v6 = icmp.v6;
    return v;
  }
  if (reply.kind != DecodedPacket::Kind::tcp) return std::nullopt;
  const uint8_t f = reply.tcp.flags;
  const bool rst = f & tcp_flag::rst, syn = f & tcp_flag::syn, ack = f & tcp_flag::ack;
  switch (style) {
    case ProbeStyle::syn:
      if (rst) {
        v.state = PortState::closed;
        v.reason = Reason::reset;
        return v;
      }
      if (syn) {  // SYN/ACK, or a bare SYN (a split handshake): someone listens
        v.state = PortState::open;
        v.reason = ack ? Reason::syn_ack : Reason::syn;
        return v;
      }
      return std::nullopt;
    case ProbeStyle::ack:
      if (!rst) return std::nullopt;
      v.state = PortState::unfiltered;
      v.reason = Reason::reset;
      return v;
    case ProbeStyle::fin_like:
      if (!rst) return std::nullopt;
      v.state = PortState::closed;
      v.reason = Reason::reset;
      return v;
  }
  return std::nullopt;
}

}  // namespace tcpkit
