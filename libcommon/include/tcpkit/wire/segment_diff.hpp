#pragma once
// What the path did to a segment: the datagram an ICMP error quotes, compared field by field
// with the bytes we sent. Fields every router changes (TTL or hop limit, checksums, the IPv4
// total length) are left out; a field the quote is too short to hold is listed as partial.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tcpkit/wire/tcp_options.hpp"

namespace tcpkit {

enum class SegmentField {
  dscp, ecn, ip_id, df, flow_label,                        // IP (ip_id and df IPv4, flow_label IPv6)
  sport, dport, seq, ack, flags, window, urgent, options,  // TCP
};
// "dscp", "ecn", "ip_id", "df", "flow_label", "sport", ..., "options".
const char* field_name(SegmentField field);

struct FieldChange {
  SegmentField field = SegmentField::dscp;
  std::string before, after;    // the values as text ("1460", "S", "mss 1460")
  std::optional<OptionChange> option;  // field options: which option, and how
};
// "window 64240 -> 1000", "mss 1460 -> mss 1200", "sackOK removed".
std::string to_string(const FieldChange& change);

struct SegmentDiff {
  std::vector<FieldChange> changes;  // IP fields first, then TCP, options in the sent list's order
  std::vector<SegmentField> partial; // fields the quote did not reach
  size_t quoted_bytes = 0;           // of the quoted datagram
};

// sent: the IP packet we sent (IPv4 or IPv6, then TCP, no extension headers). quoted: the
// datagram as an ICMP error quotes it. nullopt when either is not a TCP datagram of the same
// IP version (or the sent bytes are not a whole header). Never reads past either span.
std::optional<SegmentDiff> diff_quoted_segment(std::span<const uint8_t> sent, std::span<const uint8_t> quoted);

// The ICMP or ICMPv6 error message inside a packet (starting at its IP header), from its type
// byte to the end the IP header claims; empty when the packet is not an ICMP error (IPv4:
// unreachable, time exceeded, parameter problem; IPv6: types 1-4).
struct IcmpErrorMessage {
  std::span<const uint8_t> message;
  bool v6 = false;
};
IcmpErrorMessage icmp_error_message(std::span<const uint8_t> packet);

// The quoted datagram inside an ICMP or ICMPv6 error packet (starting at its IP header): the
// bytes after the 8-byte ICMP header, cut to the original datagram's length when the error
// carries RFC 4884 extensions. Empty when the packet is not an ICMP error.
std::span<const uint8_t> icmp_error_quote(std::span<const uint8_t> packet);

}  // namespace tcpkit
