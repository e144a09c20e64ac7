#include "tcpkit/scan/probe_kind.hpp"

#include "tcpkit/scan/probe_kind_ack.hpp"
#include "tcpkit/scan/probe_kind_custom.hpp"
#include "tcpkit/scan/probe_kind_fin.hpp"
#include "tcpkit/scan/probe_kind_null.hpp"
#include "tcpkit/scan/probe_kind_syn.hpp"
#include "tcpkit/scan/probe_kind_xmas.hpp"

namespace tcpkit {

namespace {
// Exact flag sets first; the custom readings last, the ACK one before the SYN one (SYN+ACK
// reads like an ACK probe, as nmap reads it).
constexpr const ProbeKind* kKinds[] = {&kSynProbe,       &kAckProbe,       &kFinProbe,      &kNullProbe,
                                       &kXmasProbe,      &kCustomAckProbe, &kCustomSynProbe, &kCustomFinProbe};
}  // namespace

std::span<const ProbeKind* const> probe_kinds() { return kKinds; }

const ProbeKind& probe_kind_for(uint8_t flags) {
  for (const ProbeKind* kind : kKinds)
    if (kind->selects(flags)) return *kind;
  return kCustomFinProbe;  // selects every flag set; here for the compiler
}

namespace probe_parts {

namespace {
// The MSS of a SYN: Ethernet's 1500-byte MTU less 40 bytes of IPv4 and TCP headers, what
// nmap's and the kernel's SYNs carry, so that a probe looks like any other SYN.
constexpr uint16_t kSynMss = 1460;

// Every ICMP destination unreachable that quotes the probe is an answer: filtered. nmap reads
// only net, host, protocol and port unreachable (0-3) and the administratively prohibited codes
// (9, 10, 13) so, and takes the rest (fragmentation needed for a 44-byte SYN, net or host
// unknown...) for no answer: a host behind a router that refuses every SYN with one was then
// "down (no reply on any port)" while the errors came back (tcpprobe named them).
constexpr uint8_t kIcmp4DestUnreachable = 3;
constexpr uint8_t kIcmp6DestUnreachable = 1;
}  // namespace

void shape_with_flags(SegmentSpec& spec, uint8_t flags) {
  spec.flags = flags;
  spec.options = TcpOptions{};
  if (flags & tcp_flag::syn) spec.options.add_mss(kSynMss);
}

bool rst_or_icmp(const DecodedPacket& reply) {
  return reply.kind == DecodedPacket::Kind::icmp_error ||
         (reply.kind == DecodedPacket::Kind::tcp && (reply.tcp.flags & tcp_flag::rst));
}

bool syn_rst_or_icmp(const DecodedPacket& reply) {
  return rst_or_icmp(reply) || (reply.kind == DecodedPacket::Kind::tcp && (reply.tcp.flags & tcp_flag::syn));
}

std::optional<Verdict> filtered_by_icmp(const DecodedPacket& reply) {
  if (reply.kind != DecodedPacket::Kind::icmp_error) return std::nullopt;
  const auto& icmp = reply.icmp;
  const bool unreachable = icmp.v6 ? icmp.type == kIcmp6DestUnreachable
                                   : icmp.type == kIcmp4DestUnreachable;
  if (!unreachable) return std::nullopt;
  Verdict v;
  v.state = PortState::filtered;
  v.reason = Reason::icmp_unreachable;
  v.icmp_type = icmp.type;
  v.icmp_code = icmp.code;
  v.icmp_v6 = icmp.v6;
  v.icmp_from_target = reply.src == icmp.quoted.dst;
  v.icmp_sender = reply.src;
  return v;
}

std::optional<Verdict> closed_by_reset(const DecodedPacket& reply) {
  if (reply.kind != DecodedPacket::Kind::tcp) return filtered_by_icmp(reply);
  if (!(reply.tcp.flags & tcp_flag::rst)) return std::nullopt;
  return Verdict{PortState::closed, Reason::reset};
}

void no_answer(const DecodedPacket&, ReplyResponder&) {}

}  // namespace probe_parts

}  // namespace tcpkit
