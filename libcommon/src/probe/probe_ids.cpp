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
  // Another trace's probe (another flow, another run) shows its own source port: each trace
  // reserves one. Enough against a field that may name ours by chance (a TSval not ours is no
  // proof: a box that rewrites the seq may rewrite the TSval too, pf's modulate state).
  const bool others = q.ports_known && q.sport != sport;
  if (!v6) {
    if (seq && seq == ts) return seq;  // two fields against the ID: it was rewritten
    const auto id = q.ip_id ? by_id(*q.ip_id) : std::nullopt;
    if (id && (seq || ts || !others)) return id;
    if (id) return std::nullopt;  // 16 bits: an ID in another trace's window, or rewritten into ours
  }
  if (seq) return seq;
  // The TSval alone: with a base the user gave (ts=N), every run's; so the port must be ours too.
  if (ts && (!q.ports_known || q.sport == sport)) return ts;
  return std::nullopt;
}

std::optional<size_t> ProbeIds::of_answer(const DecodedPacket& d) const {
  if (d.tcp.flags & tcp_flag::ack)
    if (auto k = by_32(d.tcp.ack - 1, first_seq)) return k;
  if (!timestamps) return std::nullopt;
  const auto ts = d.tcp.options.timestamps();
  return ts ? by_32(ts->second, first_ts) : std::nullopt;
}

}  // namespace tcpkit
