#pragma once
// The scanner's receive filter, built by hand as classic BPF for raw IP packets (what a
// SOCK_DGRAM packet socket sees): TCP segments to the scan's source ports, and every ICMP and
// ICMPv6 message (the errors quote our probes). It does what pcap_compile makes of
// "(tcp dst portrange FIRST-LAST) or icmp or icmp6" (IPv4 fragments past the first and IPv6
// extension headers other than a fragment header in front of ICMPv6 are not accepted), without
// running pcap's compiler in the scanner: its parser's code and tables cost ~200 kB of RSS.
#include <cstdint>
#include <vector>

#include "tcpkit/io/capture.hpp"

namespace tcpkit {

// Accepted packets are cut to snaplen bytes. first_port <= last_port.
std::vector<BpfInstruction> scan_reply_filter(uint16_t first_port, uint16_t last_port, uint32_t snaplen);

}  // namespace tcpkit
