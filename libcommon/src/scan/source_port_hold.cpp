// Holding a scan's source ports: bind, and move past ports some socket of this host holds.
#include "tcpkit/scan/source_port_hold.hpp"

#include <algorithm>
#include <cerrno>
#include <string>

#include "tcpkit/io/local_port.hpp"

namespace tcpkit {

namespace {

constexpr unsigned kFirstPort = 61000, kLastPort = 64999;  // default_source_port()'s range
constexpr int kTries = 64;                                 // runs of ports tried before giving up

}  // namespace

Result<std::vector<UniqueFd>> hold_source_ports(const ScanSources& sources, ScanConfig& config) {
  std::vector<IpAddress> addresses;
  for (const IpAddress& a : sources.by_range)
    if (std::find(addresses.begin(), addresses.end(), a) == addresses.end()) addresses.push_back(a);
  // Every round's port, and the ACK check's after the last (scan_ack_check.cpp ack_source_port).
  const unsigned count = config.fixed_source_port ? 1u : unsigned(config.retries) + 2u;
  unsigned first = config.source_port;
  for (int attempt = 0; attempt < kTries; ++attempt) {
    std::vector<UniqueFd> held;
    bool taken = false;
    for (unsigned port = first; port < first + count && port <= 65535 && !taken; ++port)
      for (const IpAddress& a : addresses) {
        auto r = reserve_port(a, a.is_link_local() ? uint32_t(sources.interface_index) : 0u, uint16_t(port));
        if (r) {
          held.push_back(std::move(r->holder));
        } else if (r.error().code == ErrorCode::bad_input || r.error().err_no == EACCES) {
          // Not this host's address (a spoofed -S), or a -g below 1024 this process may not
          // bind (no CAP_NET_BIND_SERVICE): sent from unheld, as before.
          continue;
        } else if (r.error().err_no == EADDRINUSE) {
          if (config.fixed_source_port)
            return fail(ErrorCode::system, "source port " + std::to_string(port) +
                                               " (-g) is in use on this host (a connection, a listener or another "
                                               "run holds it; its answers would not be ours): choose another",
                        EADDRINUSE);
          taken = true;
          break;
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
