// Holding a scan's source ports: bind, and move past ports some socket of this host holds.
#include "tcpkit/scan/source_port_hold.hpp"

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <string>

#include "tcpkit/io/local_port.hpp"

namespace tcpkit {

namespace {

constexpr unsigned kFirstPort = 61000, kLastPort = 64999;  // default_source_port()'s range
constexpr int kTries = 64;                                 // runs of ports tried before giving up

}  // namespace

Result<std::vector<UniqueFd>> hold_source_ports(const ScanSources& sources, ScanConfig& config) {
  std::vector<PortSource> addresses;
  addresses.reserve(sources.by_range.size());
  for (const IpAddress& a : sources.by_range)
    addresses.push_back({a, a.is_link_local() ? uint32_t(sources.interface_index) : 0u});
  // Every round's port, and the ACK check's after the last (scan_ack_check.cpp ack_source_port).
  const unsigned count = config.fixed_source_port ? 1u : unsigned(config.retries) + 2u;
  unsigned first = config.source_port;
  for (int attempt = 0; attempt < kTries; ++attempt) {
    std::vector<UniqueFd> held;
    bool taken = false;
    for (unsigned port = first; port < first + count && port <= 65535 && !taken; ++port) {
      auto r = hold_port(addresses, uint16_t(port));
      if (r) {
        std::move(r->begin(), r->end(), std::back_inserter(held));
      } else if (r.error().err_no == EADDRINUSE) {
        if (config.fixed_source_port)
          return fail(ErrorCode::system, "source port " + std::to_string(port) +
                                             " (-g) is in use on this host (a connection, a listener or another "
                                             "run holds it; its answers would not be ours): choose another",
                      EADDRINUSE);
        taken = true;
      } else {
        return tl::unexpected(r.error());
      }
    }
    if (!taken) {
      config.source_port = uint16_t(first);
      return held;
    }
    // The next run of ports in the default range (the seed's first, then on from it).
    first = kFirstPort + (first - kFirstPort + count) % (kLastPort + 1 - kFirstPort - count);
  }
  return fail(ErrorCode::system, "no free run of " + std::to_string(count) + " source ports in " +
                                      std::to_string(kFirstPort) + "-" + std::to_string(kLastPort) +
                                      " on this host (a widened ip_local_port_range in use?): give one with -g");
}

}  // namespace tcpkit
