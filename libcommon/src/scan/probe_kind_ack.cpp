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

extern const ProbeKind kAckProbe = {.name = "ack",
                                    .nmap_type = "ack",
                                    .style = ProbeStyle::ack,
                                    .selects = selects,
                                    .shape = probe_parts::shape_with_flags,
                                    .filter = probe_parts::rst_or_icmp,
                                    .validate = reply_matches_probe,
                                    .classify = classify_ack_reply,
                                    .on_reply = probe_parts::no_answer};

}  // namespace tcpkit
