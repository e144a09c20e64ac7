#include "tcpkit/scan/probe_kind_syn.hpp"

namespace tcpkit {

namespace {
bool selects(uint8_t flags) { return flags == tcp_flag::syn; }
}  // namespace

std::optional<Verdict> classify_syn_reply(const DecodedPacket& reply) {
  if (reply.kind != DecodedPacket::Kind::tcp) return probe_parts::filtered_by_icmp(reply);
  const uint8_t f = reply.tcp.flags;
  if (f & tcp_flag::rst) return Verdict{PortState::closed, Reason::reset};
  // SYN/ACK, or a bare SYN (a split handshake): someone listens.
  if (f & tcp_flag::syn) {
    Verdict v{PortState::open, (f & tcp_flag::ack) ? Reason::syn_ack : Reason::syn};
    v.zero_window = (f & tcp_flag::ack) && reply.tcp.window == 0;
    return v;
  }
  return std::nullopt;
}

bool syn_reply_matches(const ProbeNumbers& probe, const DecodedPacket& reply) {
  // Found: rejected as a wrong ack, so such a port read filtered and the ACK check blamed a full
  // accept queue; nmap reads it open (split-handshake-syn).
  if (reply.kind == DecodedPacket::Kind::tcp && is_split_handshake(reply.tcp.flags))
    return (probe.flags & tcp_flag::syn) != 0;
  return reply_matches_probe(probe, reply);
}

// Politeness: every SYN/ACK gets our RST at once, so no half-open entry lingers at the target.
void reset_syn_ack(const DecodedPacket& reply, ReplyResponder& responder) {
  if (reply.kind == DecodedPacket::Kind::tcp && (reply.tcp.flags & tcp_flag::syn) && (reply.tcp.flags & tcp_flag::ack))
    responder.send_reset(reply.tcp.ack);
}

constinit const ProbeKind kSynProbe = syn_reading("syn", selects);

}  // namespace tcpkit
