#pragma once
// tcpstate follow: a listener's child that the kernel made twice for one handshake and threw
// one away. Two ACKs of the same handshake (the ACK and the first data, say) processed at once
// on two CPUs each make a child (LISTEN -> SYN_RECV); the one that finds the 4-tuple taken in
// the established hash is closed at once (SYN_RECV -> CLOSE, tcp_v4_syn_recv_sock's lost
// inet_ehash_nolisten). No client failed: it is no failed handshake, nor a connection (found:
// 29 "failed handshakes" for 30 good connections, each one listed twice by --life).
#include <cstdint>
#include <deque>
#include <map>
#include <tuple>

#include "tcpkit/sockets/state_follow.hpp"

namespace tcpkit {

class TwinChildren {
 public:
  // Every change, in the kernel's order. True when it is a twin's end: a child's SYN_RECV ->
  // CLOSE while another child of the same 4-tuple, born within kWithinNs, is open.
  bool on_change(const StateChange& c);

  static constexpr uint64_t kWithinNs = 1'000'000'000;  // twins are born microseconds apart

 private:
  using Tuple = std::tuple<IpAddress, uint16_t, IpAddress, uint16_t>;
  struct Birth {
    Tuple tuple;
    uint64_t socket = 0, time_ns = 0;
  };
  void forget_before(uint64_t time_ns);

  std::deque<Birth> births_;                // of the last kWithinNs, oldest first
  std::multimap<Tuple, uint64_t> by_tuple_;  // the same births: tuple -> socket
};

}  // namespace tcpkit
