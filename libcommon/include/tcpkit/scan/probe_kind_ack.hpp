#pragma once
// The ACK probe (nmap -sA): an RST says unfiltered, silence filtered.
#include "tcpkit/scan/probe_kind.hpp"

namespace tcpkit {
extern const ProbeKind kAckProbe;
// Its reading, shared with custom ACK-bearing flags.
std::optional<Verdict> classify_ack_reply(const DecodedPacket& reply);

constexpr ProbeKind ack_reading(const char* name, bool (*selects)(uint8_t)) {
  return ProbeKind{.name = name,
                   .nmap_type = "ack",
                   .style = ProbeStyle::ack,
                   .selects = selects,
                   .shape = probe_parts::shape_with_flags,
                   .filter = probe_parts::rst_or_icmp,
                   .validate = reply_matches_probe,
                   .classify = classify_ack_reply,
                   .on_reply = probe_parts::no_answer};
}
}  // namespace tcpkit
