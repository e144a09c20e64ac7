#include "tcpkit/sockets/twin_children.hpp"

#include <algorithm>

namespace tcpkit {

void TwinChildren::forget_before(uint64_t time_ns) {
  while (!births_.empty() && births_.front().time_ns < time_ns) {
    const Birth& b = births_.front();
    auto [first, last] = by_tuple_.equal_range(b.tuple);
    const auto it = std::find_if(first, last, [&](const auto& entry) { return entry.second == b.socket; });
    if (it != last) by_tuple_.erase(it);
    births_.pop_front();
  }
}

bool TwinChildren::on_change(const StateChange& c) {
  const Tuple tuple{c.local, c.local_port, c.remote, c.remote_port};
  if (c.time_ns > kWithinNs) forget_before(c.time_ns - kWithinNs);
  if (c.old_state == TcpState::listen && c.new_state == TcpState::syn_recv) {
    births_.push_back({tuple, c.socket, c.time_ns});
    by_tuple_.emplace(tuple, c.socket);
    return false;
  }
  if (c.new_state != TcpState::close) return false;
  auto [first, last] = by_tuple_.equal_range(tuple);
  const auto mine = std::find_if(first, last, [&](const auto& entry) { return entry.second == c.socket; });
  if (mine == last) return false;  // not a child born lately
  const bool other = std::any_of(first, last, [&](const auto& entry) { return entry.second != c.socket; });
  by_tuple_.erase(mine);  // closed: no longer the other child of a later one
  return c.old_state == TcpState::syn_recv && other;
}

}  // namespace tcpkit
