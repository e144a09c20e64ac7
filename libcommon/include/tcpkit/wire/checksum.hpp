#pragma once
// Verifying the checksums of a received IP packet: the IPv4 header's, and the TCP, ICMP or
// ICMPv6 checksum over the whole message (with the pseudo-header where the protocol has one).
// A segment that fails is corrupted or forged and must not be classified.
#include <cstddef>
#include <cstdint>

namespace tcpkit {

enum class ChecksumCheck {
  good,
  bad,
  unknown,  // not TCP/ICMP/ICMPv6, a fragment, IPv6 extension headers, or cut short by a snaplen
};

// data starts at the IP header; len is what was captured.
ChecksumCheck verify_checksums(const uint8_t* data, size_t len);

}  // namespace tcpkit
