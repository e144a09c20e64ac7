#include "tcpkit/scan/scan_setup.hpp"

#include <sched.h>

#include <algorithm>

#include "tcpkit/io/route.hpp"
#include "tcpkit/util/counts.hpp"

namespace tcpkit {

namespace {
Result<void> check_family(const TargetSet& targets, const std::optional<IpAddress>& source) {
  if (!source) return {};
  for (const auto& range : targets.ranges())
    if (source->family() != range.first.family())
      return fail(ErrorCode::bad_input, "source address " + source->to_string() + " and target " +
                                            range.first.to_string() + " are of different families");
  return {};
}

// A link-local address is the same on every link: without an interface it names no host, and
// the route would pick one link for it (the default route's) unasked.
Result<void> check_link_local(const TargetSet& targets, const std::string& interface) {
  if (!interface.empty()) return {};
  static const IpAddress kLinkLocalFirst = *IpAddress::parse("fe80::");
  for (const auto& range : targets.ranges()) {
    // fe80::/10 is one block: a range that holds any of it ends in it or holds its first address.
    const bool holds = range.first.is_link_local() || range.last.is_link_local() ||
                       (range.first <= kLinkLocalFirst && kLinkLocalFirst <= range.last);
    if (!holds) continue;
    const IpAddress& named = range.first.is_link_local() ? range.first : kLinkLocalFirst;
    return fail(ErrorCode::bad_input, "link-local target " + named.to_string() + " needs an interface: write " +
                                          named.to_string() + "%IFACE or give -I IFACE");
  }
  return {};
}
}  // namespace

Result<ScanSources> choose_sources(const TargetSet& targets, const std::optional<IpAddress>& source,
                                   const std::string& interface) {
  if (auto ok = check_family(targets, source); !ok) return tl::unexpected(ok.error());
  if (auto ok = check_link_local(targets, interface); !ok) return tl::unexpected(ok.error());
  ScanSources out;
  bool first = true, shared = true;
  out.local = !targets.ranges().empty();
  const std::vector<IpAddress> own = interface.empty() ? own_addresses() : std::vector<IpAddress>{};
  for (const auto& range : targets.ranges()) {
    auto route = route_to(range.first, source, interface);
    if (!route) return tl::unexpected(route.error());
    // A range that holds one of our own addresses and others (10.0.0.0/24 from 10.0.0.1): the
    // own one is reached through lo, the others through the link. Bound to the first's
    // interface, the scan heard only one side (found: every other host of the /24 filtered,
    // "not degraded"); unbound, it hears both.
    if (range.first != range.last &&
        std::any_of(own.begin(), own.end(), [&](const IpAddress& a) { return range.first <= a && a <= range.last; }))
      shared = false;
    out.by_range.push_back(source ? *source : route->source);
    out.first_routes.push_back(*route);
    out.local = out.local && route->local;
    if (first) {
      out.interface = route->interface;
      out.interface_index = route->interface_index;
      first = false;
    } else if (route->interface != out.interface) {
      shared = false;
    }
  }
  if (!shared) {
    out.interface.clear();
    out.interface_index = 0;
  }
  return out;
}

Result<void> check_source_ports(const ScanConfig& config) {
  if (!config.fixed_source_port && int(config.source_port) + config.retries > 65535)
    return fail(ErrorCode::bad_input, "source port " + std::to_string(config.source_port) + " leaves no room for " +
                                          count_of(uint64_t(config.retries), "retry round") + " (one port each) below 65536");
  return {};
}

Result<ScanSources> dry_run_sources(const TargetSet& targets, const std::optional<IpAddress>& source,
                                    const std::string& interface) {
  if (!source) return choose_sources(targets, source, interface);
  if (auto ok = check_family(targets, source); !ok) return tl::unexpected(ok.error());
  if (auto ok = check_link_local(targets, interface); !ok) return tl::unexpected(ok.error());
  ScanSources out;
  out.by_range.assign(targets.ranges().size(), *source);
  out.interface = interface;
  return out;
}

size_t default_send_threads(double rate) {
  if (rate < kParallelSendRate) return 1;
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (sched_getaffinity(0, sizeof cpus, &cpus) != 0) return 1;
  return size_t(std::clamp(CPU_COUNT(&cpus), 1, 2));
}

}  // namespace tcpkit
