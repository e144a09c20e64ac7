#pragma once
// tcpstate follow --summary and --diagram: each edge of the state diagram taken (old -> new),
// how often, how long the sockets stayed in the old state before it (median), and the edges
// whose count means something is wrong, named.
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "tcpkit/sockets/tcp_state.hpp"

namespace tcpkit {

struct EdgeStats {
  TcpState from = TcpState::close, to = TcpState::close;
  uint64_t count = 0;
  std::optional<double> median_ms;  // of the times in `from` that are known
};

// What an edge means when it is a sign of trouble (aborts, refused or timed-out connects,
// failed handshakes) or of a rarer close worth knowing (simultaneous, three-segment); "" else.
std::string_view edge_anomaly(TcpState from, TcpState to);

// The edges of RFC 9293's diagram in Linux's states (CLOSED is Linux's CLOSE; TIME_WAIT ->
// CLOSE happens to timewait sockets, which the kernel never reports).
const std::vector<std::pair<TcpState, TcpState>>& rfc9293_edges();

// Whether a socket in `from` can be in `to` later: the same state, one the diagram's edges reach,
// or CLOSE (an RST or an abort ends any). LAST_ACK never leads to FIN_WAIT2, say.
bool rfc9293_reachable(TcpState from, TcpState to);

class EdgeCounter {
 public:
  void add(TcpState from, TcpState to, std::optional<uint64_t> in_from_ns);
  // Every edge taken, by count, most first (ties in state order).
  std::vector<EdgeStats> edges() const;
  uint64_t total() const { return total_; }

 private:
  // Durations kept per edge for the median: the first kKept exactly, then a reservoir sample
  // of that size (a fixed seed: the same changes give the same median).
  static constexpr size_t kKept = 4096;
  struct Edge {
    uint64_t count = 0, known = 0;
    std::vector<double> ms;
  };
  static constexpr size_t kStates = kTcpStateCount;
  static size_t slot(TcpState from, TcpState to) { return size_t(state_index(from)) * kStates + size_t(state_index(to)); }
  std::array<Edge, kStates * kStates> edges_{};
  uint64_t total_ = 0;
  uint64_t rng_ = 0x9e3779b97f4a7c15ull;
};

}  // namespace tcpkit
