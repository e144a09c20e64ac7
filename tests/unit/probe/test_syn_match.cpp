// Which pending SYN probe an answer belongs to: crafted answers against pending sets, above all
// the fixed source port (-s) case where every probe has the same 4-tuple.
#include <catch2/catch.hpp>

#include "tcpkit/probe/syn_probe.hpp"

using namespace tcpkit;

namespace {

const IpAddress kUs = *IpAddress::parse("10.9.0.1");
const IpAddress kThem = *IpAddress::parse("10.9.0.2");
constexpr uint16_t kPort = 8081;

DecodedPacket answer(uint8_t flags, uint16_t to_port, uint32_t seq, uint32_t ack, const IpAddress& from = kThem,
                     uint16_t from_port = kPort) {
  SegmentSpec s;
  s.src = from;
  s.dst = kUs;
  s.sport = from_port;
  s.dport = to_port;
  s.seq = seq;
  s.ack = ack;
  s.flags = flags;
  const auto bytes = craft_segment(s).value();
  return decode_packet(bytes.data(), bytes.size()).value();
}

}  // namespace

TEST_CASE("an answer with ACK goes to the probe whose ISN it acknowledges, on its 4-tuple") {
  const std::vector<PendingSyn> pending{{40000, 1000}, {40001, 2000}};
  CHECK(match_syn_answer(answer(tcp_flag::rst | tcp_flag::ack, 40001, 0, 2001), kUs, kThem, kPort, pending) == 1u);
  CHECK(match_syn_answer(answer(tcp_flag::syn | tcp_flag::ack, 40000, 7, 1001), kUs, kThem, kPort, pending) == 0u);
  // The right ack on the other probe's port, a wrong ack, another sender, another port: none.
  CHECK_FALSE(match_syn_answer(answer(tcp_flag::rst | tcp_flag::ack, 40000, 0, 2001), kUs, kThem, kPort, pending));
  CHECK_FALSE(match_syn_answer(answer(tcp_flag::rst | tcp_flag::ack, 40000, 0, 1002), kUs, kThem, kPort, pending));
  const IpAddress other = *IpAddress::parse("10.9.0.3");
  CHECK_FALSE(match_syn_answer(answer(tcp_flag::rst | tcp_flag::ack, 40000, 0, 1001, other), kUs, kThem, kPort, pending));
  CHECK_FALSE(match_syn_answer(answer(tcp_flag::rst | tcp_flag::ack, 40000, 0, 1001, kThem, 8082), kUs, kThem, kPort, pending));
}

TEST_CASE("with a fixed source port an RST without ACK goes to the probe it names, or to none") {
  // -s 40000: three probes out at once, one 4-tuple. Ordered by ISN as the prober keeps them,
  // so 'the first with this port' is the lowest ISN, not the probe answered.
  const std::vector<PendingSyn> pending{{40000, 1000}, {40000, 2000}, {40000, 3000}};
  // A stack that forgot the ACK bit but kept ack = ISN+1: that probe.
  CHECK(match_syn_answer(answer(tcp_flag::rst, 40000, 0, 3001), kUs, kThem, kPort, pending) == 2u);
  CHECK(match_syn_answer(answer(tcp_flag::rst, 40000, 0, 2001), kUs, kThem, kPort, pending) == 1u);
  // A bare RST that names no ISN: any of the three could be meant, so none is.
  CHECK_FALSE(match_syn_answer(answer(tcp_flag::rst, 40000, 0, 0), kUs, kThem, kPort, pending));
  // One probe out on that 4-tuple: the bare RST can only be its answer.
  const std::vector<PendingSyn> one{{40000, 1000}, {40007, 2000}};
  CHECK(match_syn_answer(answer(tcp_flag::rst, 40000, 0, 0), kUs, kThem, kPort, one) == 0u);
  CHECK_FALSE(match_syn_answer(answer(tcp_flag::rst, 40001, 0, 0), kUs, kThem, kPort, one));
}
