#pragma once
// tcpstate follow --life: each connection's whole path through the states, put together from its
// state changes (keyed by the kernel's socket address), with how long it stayed in each, what it
// carried and how it ended, once it ends (CLOSE, or TIME_WAIT as inferred with sock_diag).
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tcpkit/sockets/state_follow.hpp"

namespace tcpkit {

struct LifeStep {
  TcpState state = TcpState::close;
  std::optional<uint64_t> ns;  // time spent in it (unknown: entered before the follower started,
                               // or a change in between was never reported)
};

enum class LifeEnd {
  closed,            // a graceful close (the FINs exchanged), or a listener closed
  reset_by_peer,     // an RST came in (ECONNRESET, or EPIPE in CLOSE_WAIT)
  aborted,           // closed with an RST of ours (unread data, SO_LINGER 0) or before the handshake ended
  timed_out,         // retransmissions or keepalives gave up (ETIMEDOUT)
  refused,           // the SYN was answered with an RST (ECONNREFUSED)
  failed_handshake,  // a server's SYN_RECV socket closed before ESTABLISHED
  unreachable,       // ended with an ICMP error (EHOSTUNREACH, ENETUNREACH, EACCES...): no RST either way
  half_closed,       // ours acked, the peer's FIN never came: FIN_WAIT2 timed out (tcp_fin_timeout) or an RST
  end_not_seen,      // its last changes were never reported: a new socket took its address (a path gap)
};
std::string_view life_end_name(LifeEnd e);  // "closed", "reset by peer", "aborted", "timed out", ...
std::string_view life_end_key(LifeEnd e);   // "closed", "reset_by_peer", ...: for JSON and metrics

struct ConnectionLife {
  uint64_t socket = 0;
  IpAddress local, remote;
  uint16_t local_port = 0, remote_port = 0;
  uint64_t first_ns = 0, last_ns = 0;  // CLOCK_MONOTONIC: its first change seen, its end
  std::vector<LifeStep> path;          // every state in order; the last is where it ended (no time)
  bool began_before = false;           // its first state was entered before the follower started
  bool gap = false;                    // a change did not start where the last one left it
  bool time_wait_inferred = false;     // it ended in TIME_WAIT, found with sock_diag
  uint64_t bytes_acked = 0, bytes_received = 0;
  int error = 0;                       // the socket's errno at its end
  LifeEnd end = LifeEnd::closed;
};

class LifeTracker {
 public:
  // Each change as shown (the kernel's, or TIME_WAIT inferred), in order. Returns the life this
  // change ended, if it ended one: a birth at the address of a life still open ends that one
  // (end_not_seen) and starts its own.
  std::optional<ConnectionLife> on_change(const StateChange& c);
  size_t open() const { return open_.size(); }  // connections seen and not ended yet

 private:
  std::unordered_map<uint64_t, ConnectionLife> open_;
};

// A life that ended at the kernel's CLOSE from FIN_WAIT1/2 or CLOSING, once follow has found
// where the connection really went (TIME_WAIT, or CLOSE after a FIN_WAIT2 timewait socket went
// away): settled is that change; the time from the kernel's CLOSE to it is added to the last
// state's, and its new state becomes the final one. A FIN_WAIT2 that went without a TIME_WAIT
// ended half-closed: the peer's FIN never came.
void settle_close(ConnectionLife& life, const StateChange& settled);

// TIME_WAIT lasts TCP_TIMEWAIT_LEN, fixed at 60 s by the kernel, from the FIN that began it (a
// FIN_WAIT2 timewait socket re-arms its timer for it). So a TIME_WAIT socket seen at now_ns with
// left_ms on its timer entered TIME_WAIT at now - (60 s - left): kept between not_before_ns
// (when it was last seen before TIME_WAIT) and now.
inline constexpr int64_t kTimeWaitMs = 60'000;
uint64_t time_wait_entered_ns(uint64_t now_ns, int64_t left_ms, uint64_t not_before_ns);

// How a connection that left `from` for CLOSE with the socket error `error` ended.
LifeEnd classify_end(TcpState from, int error);

}  // namespace tcpkit
