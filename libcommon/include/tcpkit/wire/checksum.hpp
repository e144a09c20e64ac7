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
  unknown,       // nothing to verify: not IP, or not TCP/ICMP/ICMPv6
  unverifiable,  // TCP/ICMP whose sum cannot be checked: a fragment, or fewer bytes than its IP
                 // header claims (cut by the capture, or short on the wire)
};

// data starts at the IP header; len is what was captured. IPv6 extension headers (hop-by-hop,
// routing, destination options) are walked to the TCP or ICMPv6 header.
ChecksumCheck verify_checksums(const uint8_t* data, size_t len);

// The packet's length as its IP header claims it (IPv4 total length, IPv6 40 + payload length),
// or 0 when the bytes hold no IP header.
size_t ip_claimed_length(const uint8_t* data, size_t len);

}  // namespace tcpkit
