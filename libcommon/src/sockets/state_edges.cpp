#include "tcpkit/sockets/state_edges.hpp"

#include <algorithm>

#include "tcpkit/util/stats.hpp"

namespace tcpkit {

std::string_view edge_anomaly(TcpState from, TcpState to) {
  using S = TcpState;
  if (to == S::close) {
    switch (from) {
      case S::established:
      // A retransmission or keepalive timeout, or an ICMP error, ends these too, with no RST.
      case S::close_wait: return "abort (RST or timeout)";
      case S::syn_sent: return "refused, unreachable or timed out";
      case S::syn_recv: return "failed handshake";
      default: return "";
    }
  }
  if (from == S::fin_wait1 && to == S::closing) return "simultaneous close";
  if (from == S::fin_wait1 && to == S::time_wait) return "three-segment close";
  return "";
}

const std::vector<std::pair<TcpState, TcpState>>& rfc9293_edges() {
  using S = TcpState;
  static const std::vector<std::pair<TcpState, TcpState>> edges = {
      {S::close, S::listen},          {S::close, S::syn_sent},        {S::listen, S::syn_sent},
      {S::listen, S::syn_recv},
      {S::listen, S::close},          {S::syn_sent, S::syn_recv},     {S::syn_sent, S::established},
      {S::syn_sent, S::close},        {S::syn_recv, S::established},  {S::syn_recv, S::fin_wait1},
      {S::established, S::fin_wait1}, {S::established, S::close_wait}, {S::fin_wait1, S::fin_wait2},
      {S::fin_wait1, S::closing},     {S::fin_wait1, S::time_wait},   {S::fin_wait2, S::time_wait},
      {S::closing, S::time_wait},     {S::close_wait, S::last_ack},   {S::last_ack, S::close},
      {S::time_wait, S::close},
  };
  return edges;
}

bool rfc9293_reachable(TcpState from, TcpState to) {
  if (from == to || to == TcpState::close) return true;
  std::array<bool, kTcpStateCount> seen{};
  std::vector<TcpState> todo = {from};
  seen[size_t(state_index(from))] = true;
  while (!todo.empty()) {
    const TcpState s = todo.back();
    todo.pop_back();
    for (const auto& [a, b] : rfc9293_edges()) {
      if (a != s || seen[size_t(state_index(b))]) continue;
      if (b == to) return true;
      seen[size_t(state_index(b))] = true;
      if (b != TcpState::close) todo.push_back(b);  // past CLOSE a new connection begins
    }
  }
  return false;
}

void EdgeCounter::add(TcpState from, TcpState to, std::optional<uint64_t> in_from_ns) {
  Edge& e = edges_[slot(from, to)];
  ++e.count;
  ++total_;
  if (!in_from_ns) return;
  const double ms = double(*in_from_ns) / 1e6;
  ++e.known;
  if (e.ms.size() < kKept) {
    e.ms.push_back(ms);
    return;
  }
  rng_ ^= rng_ << 13, rng_ ^= rng_ >> 7, rng_ ^= rng_ << 17;  // xorshift64
  const uint64_t slot = rng_ % e.known;
  if (slot < kKept) e.ms[size_t(slot)] = ms;
}

std::vector<EdgeStats> EdgeCounter::edges() const {
  std::vector<EdgeStats> out;
  for (TcpState from : kAllTcpStates)
    for (TcpState to : kAllTcpStates) {
      const Edge& e = edges_[slot(from, to)];
      if (!e.count) continue;
      EdgeStats s{from, to, e.count, std::nullopt};
      if (!e.ms.empty()) {
        std::vector<double> sorted = e.ms;
        std::sort(sorted.begin(), sorted.end());
        s.median_ms = percentile(sorted, 50);
      }
      out.push_back(s);
    }
  std::stable_sort(out.begin(), out.end(), [](const EdgeStats& a, const EdgeStats& b) { return a.count > b.count; });
  return out;
}

}  // namespace tcpkit
