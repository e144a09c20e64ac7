#include "tcpkit/scan/probe_kind_ack.hpp"

namespace tcpkit {

namespace {
bool selects(uint8_t flags) { return flags == tcp_flag::ack; }
}  // namespace

// An RST to an ACK says the probe got through, not whether someone listens.
std::optional<Verdict> classify_ack_reply(const DecodedPacket& reply) {
  if (reply.kind != DecodedPacket::Kind::tcp) return probe_parts::filtered_by_icmp(reply);
  if (!(reply.tcp.flags & tcp_flag::rst)) return std::nullopt;
  return Verdict{PortState::unfiltered, Reason::reset};
}

constinit const ProbeKind kAckProbe = ack_reading("ack", selects);

}  // namespace tcpkit
