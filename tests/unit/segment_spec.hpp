#pragma once
// The spec that crafts a decoded TCP segment again (without its payload): shared by the unit
// tests and fuzz_segment, which both check decode -> craft -> decode.
#include "tcpkit/wire/segment.hpp"

namespace tcpkit_test {

inline tcpkit::SegmentSpec spec_from(const tcpkit::DecodedPacket& d) {
  tcpkit::SegmentSpec s;
  s.src = d.src;
  s.dst = d.dst;
  s.sport = d.tcp.sport;
  s.dport = d.tcp.dport;
  s.seq = d.tcp.seq;
  s.ack = d.tcp.ack;
  s.flags = d.tcp.flags;
  s.window = d.tcp.window;
  s.urgent = d.tcp.urgent;
  s.options = d.tcp.options;
  s.ttl = d.ttl;
  s.ip_id = d.ip_id;
  return s;
}

}  // namespace tcpkit_test
