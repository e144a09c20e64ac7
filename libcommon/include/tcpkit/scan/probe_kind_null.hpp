#pragma once
// The NULL probe (nmap -sN): no flags at all; read like FIN.
#include "tcpkit/scan/probe_kind.hpp"

namespace tcpkit {
extern const ProbeKind kNullProbe;
}  // namespace tcpkit
