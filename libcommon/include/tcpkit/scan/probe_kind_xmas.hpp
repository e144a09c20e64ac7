#pragma once
// The Xmas probe (nmap -sX): FIN+PSH+URG; read like FIN.
#include "tcpkit/scan/probe_kind.hpp"

namespace tcpkit {
extern const ProbeKind kXmasProbe;
}  // namespace tcpkit
