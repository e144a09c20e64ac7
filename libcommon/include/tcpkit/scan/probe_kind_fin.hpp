#pragma once
// The FIN probe (nmap -sF): RFC 9293 has a closed port answer with RST and an open one stay silent.
#include "tcpkit/scan/probe_kind.hpp"

namespace tcpkit {
extern const ProbeKind kFinProbe;
}  // namespace tcpkit
