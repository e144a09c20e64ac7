// A connection's life from its state changes: the path grows with each change of the socket
// and ends at CLOSE (or TIME_WAIT, which the kernel reports as CLOSE and follow infers).
#include "tcpkit/sockets/connection_life.hpp"

#include <algorithm>
#include <cerrno>

namespace tcpkit {

std::string_view life_end_name(LifeEnd e) {
  switch (e) {
    case LifeEnd::closed: return "closed";
    case LifeEnd::reset_by_peer: return "reset by peer";
    case LifeEnd::aborted: return "aborted";
    case LifeEnd::timed_out: return "timed out";
    case LifeEnd::refused: return "refused";
    case LifeEnd::failed_handshake: return "failed handshake";
    case LifeEnd::unreachable: return "unreachable";
    case LifeEnd::half_closed: return "half-closed";
    case LifeEnd::end_not_seen: return "end not seen";
  }
  return "closed";
}

std::string_view life_end_key(LifeEnd e) {
  switch (e) {
    case LifeEnd::closed: return "closed";
    case LifeEnd::reset_by_peer: return "reset_by_peer";
    case LifeEnd::aborted: return "aborted";
    case LifeEnd::timed_out: return "timed_out";
    case LifeEnd::refused: return "refused";
    case LifeEnd::failed_handshake: return "failed_handshake";
    case LifeEnd::unreachable: return "unreachable";
    case LifeEnd::half_closed: return "half_closed";
    case LifeEnd::end_not_seen: return "end_not_seen";
  }
  return "closed";
}

namespace {

// The errnos the kernel turns ICMP and ICMPv6 errors into (icmp_err_convert, icmpv6_err_convert),
// but for port unreachable's ECONNREFUSED. A handshake ends with one at once; otherwise
// tcp_write_err ends the connection with the last one (sk_err_soft) in place of ETIMEDOUT.
bool icmp_errno(int error) {
  switch (error) {
    case ENETUNREACH: case EHOSTUNREACH: case EHOSTDOWN: case ENONET: case EACCES:
    case ENOPROTOOPT: case EOPNOTSUPP: case EPROTO: case EMSGSIZE: return true;
    default: return false;
  }
}

}  // namespace

LifeEnd classify_end(TcpState from, int error) {
  // The kernel sets the socket's error before it closes it: tcp_reset (ECONNREFUSED in
  // SYN_SENT, EPIPE in CLOSE_WAIT, ECONNRESET elsewhere), tcp_write_err (ETIMEDOUT, or the
  // ICMP error that answered the retransmissions), tcp_v4_err/tcp_v6_err in a handshake.
  if (error == ECONNREFUSED) return LifeEnd::refused;
  if (error == ETIMEDOUT) return LifeEnd::timed_out;
  if (error == ECONNRESET || error == EPIPE) return LifeEnd::reset_by_peer;
  if (icmp_errno(error)) return LifeEnd::unreachable;
  switch (from) {
    case TcpState::syn_recv: return LifeEnd::failed_handshake;
    case TcpState::syn_sent:     // closed before the handshake ended
    case TcpState::established:  // closed with an RST of ours: unread data or SO_LINGER 0
    case TcpState::close_wait: return LifeEnd::aborted;
    default: return LifeEnd::closed;  // LAST_ACK, FIN_WAIT1/2, CLOSING, LISTEN
  }
}

std::optional<ConnectionLife> LifeTracker::on_change(const StateChange& c) {
  // Born here: CLOSE -> SYN_SENT or LISTEN (connect(), listen()), or LISTEN -> SYN_RECV, a
  // listener's child made from it when the handshake completes (its request socket is not
  // seen). Any other first change is of a connection older than the follower.
  const bool born = c.old_state == TcpState::close || (c.old_state == TcpState::listen && c.new_state == TcpState::syn_recv);
  auto it = open_.find(c.socket);
  std::optional<ConnectionLife> unseen_end;
  if (it != open_.end() && born) {
    // A new socket at the address of one still open here: the kernel freed the old one and
    // reused its memory, so it ended, but its last changes were never reported (a path gap).
    // It ends now, as "end not seen"; the new connection is never merged into it.
    unseen_end = std::move(it->second);
    open_.erase(it);
    unseen_end->gap = true;
    unseen_end->path.push_back({TcpState::close, std::nullopt});
    unseen_end->last_ns = std::max(unseen_end->last_ns, c.time_ns);  // ended by then
    unseen_end->end = LifeEnd::end_not_seen;
    it = open_.end();
  }
  if (it == open_.end()) {
    ConnectionLife life;
    life.socket = c.socket;
    life.first_ns = c.time_ns;
    if (!born) {
      life.began_before = c.old_state != TcpState::syn_recv;
      life.path.push_back({c.old_state, c.in_old_state_ns});
      if (c.in_old_state_ns) life.first_ns = c.time_ns - *c.in_old_state_ns;
    }
    it = open_.emplace(c.socket, std::move(life)).first;
  } else {
    ConnectionLife& life = it->second;
    if (life.path.empty() || life.path.back().state != c.old_state) {
      life.gap = true;  // the changes between were never reported
      life.path.push_back({c.old_state, std::nullopt});
    }
    if (c.old_state == c.new_state) {  // still the same state: one step (its time runs on, see below)
      life.last_ns = c.time_ns;
      return std::nullopt;
    }
    // The time in it counts from its entry, across changes to the same state (the BPF side).
    life.path.back().ns = c.in_old_state_ns;
  }
  ConnectionLife& life = it->second;
  life.local = c.local;
  life.remote = c.remote;
  if (c.local_port) life.local_port = c.local_port;
  if (c.remote_port) life.remote_port = c.remote_port;
  life.bytes_acked = c.bytes_acked;
  life.bytes_received = c.bytes_received;
  life.last_ns = c.time_ns;
  // An older connection's first change, to the state it was in (close() after shutdown()): one
  // step, its time unknown.
  if (c.old_state == c.new_state) return unseen_end;
  life.path.push_back({c.new_state, std::nullopt});
  if (c.new_state != TcpState::close && c.new_state != TcpState::time_wait) return unseen_end;
  ConnectionLife done = std::move(life);
  open_.erase(it);
  done.error = c.error;
  done.time_wait_inferred = c.new_state == TcpState::time_wait;
  done.end = done.time_wait_inferred ? LifeEnd::closed : classify_end(c.old_state, c.error);
  return done;
}

void settle_close(ConnectionLife& life, const StateChange& settled) {
  if (life.path.size() < 2) return;
  // The connection stayed in its last state from the kernel's CLOSE until it was seen settled.
  auto& last = life.path[life.path.size() - 2].ns;
  if (last && settled.time_ns > life.last_ns) *last += settled.time_ns - life.last_ns;
  life.last_ns = std::max(life.last_ns, settled.time_ns);
  life.path.back().state = settled.new_state;
  life.time_wait_inferred = settled.new_state == TcpState::time_wait;
  if (life.time_wait_inferred)
    life.end = LifeEnd::closed;
  else if (life.path[life.path.size() - 2].state == TcpState::fin_wait2 && life.end == LifeEnd::closed)
    // The kernel's CLOSE made a FIN_WAIT2 timewait socket, which went without a TIME_WAIT: the
    // peer's FIN never came (it timed out, or an RST ended it). The FINs were not exchanged.
    life.end = LifeEnd::half_closed;
}

uint64_t time_wait_entered_ns(uint64_t now_ns, int64_t left_ms, uint64_t not_before_ns) {
  constexpr uint64_t kNsPerMs = 1'000'000;
  const int64_t spent_ms = std::clamp<int64_t>(kTimeWaitMs - left_ms, 0, kTimeWaitMs);
  const uint64_t spent_ns = uint64_t(spent_ms) * kNsPerMs;
  const uint64_t entered = now_ns > spent_ns ? now_ns - spent_ns : 0;
  return std::clamp(entered, std::min(not_before_ns, now_ns), now_ns);
}

}  // namespace tcpkit
