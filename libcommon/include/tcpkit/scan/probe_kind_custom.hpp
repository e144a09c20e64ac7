#pragma once
// Custom --flags: a flag set no other kind selects, read the way nmap reads --scanflags: with
// ACK like an ACK probe, with SYN (and no ACK) like a SYN probe, otherwise like FIN.
#include "tcpkit/scan/probe_kind.hpp"

namespace tcpkit {
extern const ProbeKind kCustomAckProbe, kCustomSynProbe, kCustomFinProbe;
}  // namespace tcpkit
