#pragma once
// The ACK probe (nmap -sA): an RST says unfiltered, silence filtered.
#include "tcpkit/scan/probe_kind.hpp"

namespace tcpkit {
extern const ProbeKind kAckProbe;
// Its reading, shared with custom ACK-bearing flags.
std::optional<Verdict> classify_ack_reply(const DecodedPacket& reply);
}  // namespace tcpkit
