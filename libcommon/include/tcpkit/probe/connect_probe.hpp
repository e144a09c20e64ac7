#pragma once
// Unprivileged probes: a kernel connect(), timed in user space, plus the kernel's own RTT
// estimate (TCP_INFO) and the ICMP error behind a failure (IP_RECVERR).
#include <chrono>
#include <optional>
#include <string>

#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/probe/probe_result.hpp"

namespace tcpkit {

struct ConnectProbeConfig {
  IpAddress destination;
  uint16_t port = 80;
  std::optional<IpAddress> source;
  std::string interface;                 // SO_BINDTODEVICE
  std::optional<uint16_t> source_port;
  std::optional<uint8_t> ttl;
  std::chrono::microseconds timeout{1'000'000};
};

// One connect(); the connection, if made, is aborted with an RST (SO_LINGER 0) so neither
// side keeps TIME_WAIT. Returns early (filtered) when cancel_fd becomes readable.
Result<ProbeReply> connect_probe(const ConnectProbeConfig& config, uint64_t probe_id, int cancel_fd = -1);

}  // namespace tcpkit
