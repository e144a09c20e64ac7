#pragma once
// Decoded replies for the scanner's tests: a TCP segment, an ICMP error quoting our probe.
#include <optional>

#include "tcpkit/wire/segment.hpp"

namespace tcpkit_test {

inline tcpkit::DecodedPacket tcp_reply(uint8_t flags, uint32_t seq, uint32_t ack) {
  tcpkit::DecodedPacket p;
  p.kind = tcpkit::DecodedPacket::Kind::tcp;
  p.tcp.flags = flags;
  p.tcp.seq = seq;
  p.tcp.ack = ack;
  return p;
}

inline tcpkit::DecodedPacket icmp_reply(bool v6, uint8_t type, uint8_t code, std::optional<uint32_t> quoted_seq) {
  tcpkit::DecodedPacket p;
  p.kind = tcpkit::DecodedPacket::Kind::icmp_error;
  p.icmp.v6 = v6;
  p.icmp.type = type;
  p.icmp.code = code;
  p.icmp.quoted.protocol = 6;
  p.icmp.quoted.ports_known = true;
  p.icmp.quoted.seq = quoted_seq;
  return p;
}
}  // namespace tcpkit_test
