#pragma once
// The SYN probe (nmap -sS): SYN/ACK open, RST closed; it resets every SYN/ACK it draws.
#include "tcpkit/scan/probe_kind.hpp"

namespace tcpkit {
extern const ProbeKind kSynProbe;
// Its reading and its politeness, shared with custom SYN-bearing flags.
std::optional<Verdict> classify_syn_reply(const DecodedPacket& reply);
void reset_syn_ack(const DecodedPacket& reply, ReplyResponder& responder);
// reply_matches_probe, and a bare SYN on the probe's port pair: a split handshake (the peer
// opens towards us instead of answering SYN/ACK), which carries no number of ours to check.
bool syn_reply_matches(const ProbeNumbers& probe, const DecodedPacket& reply);

constexpr ProbeKind syn_reading(const char* name, bool (*selects)(uint8_t)) {
  return ProbeKind{.name = name,
                   .nmap_type = "syn",
                   .style = ProbeStyle::syn,
                   .selects = selects,
                   .shape = probe_parts::shape_with_flags,
                   .filter = probe_parts::syn_rst_or_icmp,
                   .validate = syn_reply_matches,
                   .classify = classify_syn_reply,
                   .on_reply = reset_syn_ack};
}
}  // namespace tcpkit
