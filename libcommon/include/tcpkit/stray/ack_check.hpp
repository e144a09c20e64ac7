#pragma once
// Why SYNs to a port went unanswered, asked with stray ACKs from a fresh source port: any TCP
// stack resets one, on a listening port and on a closed one alike (RFC 9293 3.10.7.1, 3.10.7.2).
// An RST back shows that segments reach the peer's stack on that port and only the SYNs are
// dropped there: a listener whose accept queue is full (a server that stopped accepting), a SYN
// rate limit, or a rule for SYNs alone. Silence leaves a firewall or a host that is gone.
#include <chrono>
#include <string_view>

#include "tcpkit/io/route.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/wire/segment.hpp"

namespace tcpkit {

// late_reset: the RST came, but only after `timeout` (the probes' -W): the host answers, slower
// than the probes waited, so their answers may have come too late as well.
enum class AckCheck { reset, late_reset, icmp, silence };
std::string_view to_string(AckCheck check);  // "reset", "late reset", "icmp", "silence"

struct AckCheckAnswer {
  AckCheck kind = AckCheck::silence;
  std::string icmp;  // kind icmp: what the error said ("host unreachable", "port unreachable", ...)
  IcmpMeaning icmp_meaning = IcmpMeaning::other;  // ... and what that means
};

struct AckCheckConfig {
  IpAddress destination;
  uint16_t port = 0;
  Route route;
  bool bind_interface = false;
  std::chrono::microseconds timeout{1'000'000};  // the probes' wait: an RST after it is late_reset
  // Each ACK is waited for at least this long, so that a wait shorter than the round trip does
  // not read as silence.
  std::chrono::microseconds least_wait{1'000'000};
  // ACKs sent, one after another, while none draws anything: on a lossy path one lost ACK or
  // RST would read as a firewall that drops everything.
  int tries = 3;
};

// Needs CAP_NET_RAW. cancel_fd (Ctrl-C) ends the wait early (silence).
Result<AckCheckAnswer> check_with_ack(const AckCheckConfig& config, int cancel_fd = -1);

}  // namespace tcpkit
