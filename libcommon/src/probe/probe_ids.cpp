// A probe's index from the fields that carry it, each at its own width.
#include "tcpkit/probe/probe_ids.hpp"

#include <netinet/in.h>

namespace tcpkit {

std::optional<size_t> ProbeIds::by_id(uint16_t id) const {
  const size_t k = uint16_t(id - first_id);
  return k < count ? std::optional<size_t>(k) : std::nullopt;
}

std::optional<size_t> ProbeIds::by_32(uint32_t value, uint32_t first) const {
  const size_t k = uint32_t(value - first);
  return k < count ? std::optional<size_t>(k) : std::nullopt;
}

std::optional<size_t> ProbeIds::of_sent(const DecodedPacket& d) const {
  return v6 ? by_32(d.tcp.seq, first_seq) : by_id(d.ip_id);
}

std::optional<size_t> ProbeIds::of_quote(const QuotedDatagram& q, const IpAddress& destination) const {
  if (q.protocol != IPPROTO_TCP || q.dst != destination) return std::nullopt;
  const auto seq = q.seq ? by_32(*q.seq, first_seq) : std::nullopt;
  const auto ts = timestamps && q.tsval ? by_32(*q.tsval, first_ts) : std::nullopt;
  if (!v6) {
    if (seq && seq == ts) return seq;  // two fields against the ID: it was rewritten
    const auto id = q.ip_id ? by_id(*q.ip_id) : std::nullopt;
    const bool others_ports = q.ports_known && q.sport != sport && q.dport != dport;
    if (id && (seq || ts || !others_ports)) return id;
    if (id) return std::nullopt;  // an ID that collides with another trace's window
  }
  return seq ? seq : ts;
}

std::optional<size_t> ProbeIds::of_answer(const DecodedPacket& d) const {
  if (d.tcp.flags & tcp_flag::ack)
    if (auto k = by_32(d.tcp.ack - 1, first_seq)) return k;
  if (!timestamps) return std::nullopt;
  const auto ts = d.tcp.options.timestamps();
  return ts ? by_32(ts->second, first_ts) : std::nullopt;
}

}  // namespace tcpkit
