#include "tcpkit/scan/scan_probe.hpp"

#include <cstring>

#include "tcpkit/wire/cookie.hpp"
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
    case Reason::syn: return "split-handshake-syn";  // nmap's word
    case Reason::reset: return "reset";
    case Reason::icmp_unreachable: return "icmp-unreach";
    case Reason::no_response: return "no-response";
  }
  return "?";
}

const char* to_string(AckAnswer answer) {
  switch (answer) {
    case AckAnswer::unasked: return "";
    case AckAnswer::reset: return "ack-reset";
    case AckAnswer::silence: return "ack-silence";
    case AckAnswer::icmp: return "ack-icmp";
  }
  return "?";
}

PortState no_reply_state(ProbeStyle style) {
  return style == ProbeStyle::fin_like ? PortState::open_filtered : PortState::filtered;
}

PortState positive_state(ProbeStyle style) {
  switch (style) {
    case ProbeStyle::syn: return PortState::open;
    case ProbeStyle::ack: return PortState::unfiltered;
    case ProbeStyle::fin_like: return PortState::open_filtered;
  }
  return PortState::open;
}

ProbeNumbers probe_numbers(uint8_t flags, uint64_t cookie) {
  ProbeNumbers n;
  n.flags = flags;
  n.seq = ScanCookie::seq_part(cookie);
  n.ack = (flags & tcp_flag::ack) ? ScanCookie::ack_part(cookie) : 0;
  return n;
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

}  // namespace tcpkit
