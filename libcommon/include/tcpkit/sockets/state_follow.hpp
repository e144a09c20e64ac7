#pragma once
// Live TCP state changes from the kernel (eBPF on sock:inet_sock_set_state), for tcpstate
// follow. Only where libbpf, bpftool and clang were found at build time is the program built
// in; elsewhere start_state_follower says it is unavailable. Either way state_follow.cpp is a
// small library of its own (tcpkit_state_follow), linked only into tcpstate, so that
// libtcpkit.so and the other tools never load libbpf.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/sockets/tcp_state.hpp"

namespace tcpkit {

struct StateChange {
  uint64_t time_ns = 0;  // CLOCK_MONOTONIC
  std::optional<uint64_t> in_old_state_ns;  // unknown when the previous change came before the start
  uint64_t socket = 0;   // the kernel's socket address: the same for one connection's whole life
  IpAddress local, remote;
  uint16_t local_port = 0, remote_port = 0;
  TcpState old_state = TcpState::close, new_state = TcpState::close;
  int error = 0;                 // the socket's error at the change (errno: ECONNREFUSED, ECONNRESET, ETIMEDOUT)
  uint64_t bytes_acked = 0;      // bytes sent and acknowledged by the peer so far (tcp_sock, RFC 4898)
  uint64_t bytes_received = 0;   // bytes received in order so far
};

// What the kernel side could not deliver: each makes the run degraded.
struct FollowLosses {
  uint64_t ring_drops = 0;        // changes with no room in the ring buffer
  uint64_t recursion_misses = 0;  // changes lost: the program was already running on that CPU
                                  // (tp_btf: and its second program could not take them either)
  uint64_t rescued = 0;           // tp_btf: nested changes the second program took (not losses)
  uint64_t path_gaps = 0;         // a socket's change did not start where its last one ended: the
                                  // changes between were never reported (by the kernel, or lost above)
};

class StateFollower {
 public:
  virtual ~StateFollower() = default;
  // Waits up to timeout_ms for changes and passes each to sink. Returns how many came.
  virtual Result<size_t> poll(int timeout_ms, const std::function<void(const StateChange&)>& sink) = 0;
  // Passes every change already in the ring to sink without waiting (at the end of a run: what
  // the kernel delivered before the stop must not be dropped unseen). Returns how many came.
  virtual Result<size_t> drain(const std::function<void(const StateChange&)>& sink) = 0;
  virtual FollowLosses losses() const = 0;
  virtual std::string attachment() const = 0;  // "tp_btf" or "tracepoint"
};

// Loads and attaches the program, following the namespace with inode netns_inode (0: all).
// Errors: privilege (no CAP_BPF/CAP_PERFMON), system (no BTF, no BPF, built without libbpf).
Result<std::unique_ptr<StateFollower>> start_state_follower(uint32_t netns_inode);

}  // namespace tcpkit
