#pragma once
// The SYN probe (nmap -sS): SYN/ACK open, RST closed; it resets every SYN/ACK it draws.
#include "tcpkit/scan/probe_kind.hpp"

namespace tcpkit {
extern const ProbeKind kSynProbe;
// Its reading and its politeness, shared with custom SYN-bearing flags.
std::optional<Verdict> classify_syn_reply(const DecodedPacket& reply);
void reset_syn_ack(const DecodedPacket& reply, ReplyResponder& responder);

constexpr ProbeKind syn_reading(const char* name, bool (*selects)(uint8_t)) {
  return ProbeKind{.name = name,
                   .nmap_type = "syn",
                   .style = ProbeStyle::syn,
                   .selects = selects,
                   .shape = probe_parts::shape_with_flags,
                   .filter = probe_parts::syn_rst_or_icmp,
                   .validate = reply_matches_probe,
                   .classify = classify_syn_reply,
                   .on_reply = reset_syn_ack};
}
}  // namespace tcpkit
