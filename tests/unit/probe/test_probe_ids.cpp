// Which of a trace's probes a quote or an answer names, above all against the probes of another
// flow traced at the same time (every quote to our address reaches every flow's capture).
#include <catch2/catch.hpp>

#include <netinet/in.h>

#include "tcpkit/probe/probe_ids.hpp"

using namespace tcpkit;

namespace {

const IpAddress kDestination = *IpAddress::parse("10.9.3.2");

ProbeIds ids(bool v6 = false) {
  ProbeIds p;
  p.v6 = v6;
  p.first_id = 43698;
  p.first_seq = 1120191264;
  p.first_ts = 1;
  p.timestamps = true;
  p.count = 7;
  p.sport = 40000;
  return p;
}

QuotedDatagram quote(std::optional<uint16_t> ip_id, std::optional<uint32_t> seq, std::optional<uint32_t> tsval) {
  QuotedDatagram q;
  q.dst = kDestination;
  q.protocol = IPPROTO_TCP;
  q.ip_id = ip_id;
  q.seq = seq;
  q.tsval = tsval;
  return q;
}

}  // namespace

TEST_CASE("probe ids: our own quotes, by the IP ID, the seq and the TSval") {
  const ProbeIds p = ids();
  CHECK(p.of_quote(quote(43699, 1120191265, 2), kDestination) == size_t(1));
  // A router rewrote the IP ID: the seq names the probe.
  CHECK(p.of_quote(quote(7, 1120191267, std::nullopt), kDestination) == size_t(3));
  // Seq and TSval agree against the ID: the ID was rewritten into another probe's.
  CHECK(p.of_quote(quote(43698, 1120191266, 3), kDestination) == size_t(2));
  // A rewritten seq leaves the ID.
  CHECK(p.of_quote(quote(43702, 99, std::nullopt), kDestination) == size_t(4));
  // Another destination, or not TCP: never ours.
  QuotedDatagram udp = quote(43699, 1120191265, 2);
  udp.protocol = IPPROTO_UDP;
  CHECK_FALSE(p.of_quote(udp, kDestination));
  CHECK_FALSE(p.of_quote(quote(43699, 1120191265, 2), *IpAddress::parse("10.9.3.3")));
}

TEST_CASE("probe ids: another flow's probe whose seq shares our low 16 bits is not ours") {
  // Seen in CI: tcppath --flows 16 drew a flow's hop 2 from another flow's hop 1 (its seq was
  // ours + 7808 * 65536 + 1; the IP ID and TSval named nothing of ours).
  const ProbeIds p = ids();
  CHECK_FALSE(p.of_quote(quote(64076, 1631896353, 1 + 100), kDestination));
  CHECK_FALSE(p.of_quote(quote(std::nullopt, 1631896353, std::nullopt), kDestination));
  // The same over IPv6, and for the destination's answer.
  CHECK_FALSE(ids(true).of_quote(quote(std::nullopt, 1631896353, std::nullopt), kDestination));
  DecodedPacket answer;
  answer.tcp.flags = tcp_flag::syn | tcp_flag::ack;
  answer.tcp.ack = 1631896353 + 1;
  CHECK_FALSE(p.of_answer(answer));
  answer.tcp.ack = 1120191266 + 1;
  CHECK(p.of_answer(answer) == size_t(2));
}

TEST_CASE("probe ids: IPv6 by the seq, or by the TSval where the seq was rewritten") {
  const ProbeIds p = ids(true);
  CHECK(p.of_quote(quote(std::nullopt, 1120191269, 6), kDestination) == size_t(5));
  CHECK(p.of_quote(quote(std::nullopt, 5, 4), kDestination) == size_t(3));
  CHECK_FALSE(p.of_quote(quote(std::nullopt, 5, 8), kDestination));  // past the last probe
  // The IP ID window wraps at 16 bits.
  ProbeIds wrap = ids();
  wrap.first_id = 65534;
  CHECK(wrap.of_quote(quote(1, 7, std::nullopt), kDestination) == size_t(3));
}

TEST_CASE("probe ids: IPv4 with the ID and the seq both rewritten, by the TSval") {
  // Found: a router that rewrote both (pf's random-id and sequence modulation) left the next
  // hop silent, and the SYN reported unchanged.
  CHECK(ids().of_quote(quote(0, 12345, 1 + 3), kDestination) == size_t(3));
  CHECK_FALSE(ids().of_quote(quote(0, 12345, std::nullopt), kDestination));
}

TEST_CASE("probe ids: a quote only its IP ID or its TSval makes ours, from another source port, is another trace's") {
  // Another flow of the same run, or another run to the same port: only the source port differs.
  const ProbeIds p = ids();
  QuotedDatagram other = quote(43699, 77, std::nullopt);
  other.ports_known = true;
  other.sport = 5555;
  other.dport = 8080;
  CHECK_FALSE(p.of_quote(other, kDestination));
  other.sport = 40000;  // ours: the ID names the probe (a router rewrote the seq)
  CHECK(p.of_quote(other, kDestination) == size_t(1));
  // Our port, the seq and the TSval rewritten (pf's modulate state): ours by the ID.
  QuotedDatagram rewritten = quote(43699, 77, 900000);
  rewritten.ports_known = true;
  rewritten.sport = 40000;
  CHECK(p.of_quote(rewritten, kDestination) == size_t(1));
  // A NAT rewrote our source port: still ours by the seq.
  QuotedDatagram natted = quote(43699, 1120191265, 2);
  natted.ports_known = true;
  natted.sport = 5555;
  CHECK(p.of_quote(natted, kDestination) == size_t(1));
  // The TSval alone (ID and seq rewritten) needs our source port: a TSval base a user gave
  // (ts=N) is every run's.
  QuotedDatagram by_ts = quote(0, 12345, 1 + 4);
  by_ts.ports_known = true;
  by_ts.sport = 5555;
  CHECK_FALSE(p.of_quote(by_ts, kDestination));
  CHECK_FALSE(ids(true).of_quote(by_ts, kDestination));
  by_ts.sport = 40000;
  CHECK(p.of_quote(by_ts, kDestination) == size_t(4));
}
