#pragma once
// The SYN probe (nmap -sS): SYN/ACK open, RST closed; it resets every SYN/ACK it draws.
#include "tcpkit/scan/probe_kind.hpp"

namespace tcpkit {
extern const ProbeKind kSynProbe;
// Its reading and its politeness, shared with custom SYN-bearing flags.
std::optional<Verdict> classify_syn_reply(const DecodedPacket& reply);
void reset_syn_ack(const DecodedPacket& reply, ReplyResponder& responder);
}  // namespace tcpkit
