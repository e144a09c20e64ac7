#include "tcpkit/scan/send_path.hpp"

#include "tcpkit/io/link_layer.hpp"
#include "tcpkit/io/route.hpp"

namespace tcpkit {

namespace {
// An address the kernel has never talked to is resolved before the first probe; a neighbour
// that does not answer within this is not one frames can be sent to.
constexpr std::chrono::milliseconds kResolveTimeout{1000};

// The one next hop of every target range of a family, or why there is none; link is the
// interface's, read once. The route to each range's first address is the one choose_sources
// asked for; only a range's last address is routed here.
Result<NextHopFacts> next_hop_facts(const TargetSet& targets, Family family, const ScanSources& sources,
                                    const std::optional<IpAddress>& source, std::optional<LinkInfo>& link) {
  NextHopFacts facts;
  std::optional<Route> shared;
  std::optional<IpAddress> on_link;  // the single target of a route without gateway
  const auto& ranges = targets.ranges();
  for (size_t r = 0; r < ranges.size(); ++r) {
    if (ranges[r].first.family() != family) continue;
    if (r >= sources.first_routes.size()) return fail(ErrorCode::system, "scan sources do not match the targets");
    std::optional<Route> last_route;
    if (ranges[r].last != ranges[r].first) {
      auto routed = route_to(ranges[r].last, source, sources.interface);
      if (!routed) return tl::unexpected(routed.error());
      last_route = *routed;
    }
    const std::pair<const IpAddress&, const Route&> ends[] = {
        {ranges[r].first, sources.first_routes[r]}, {ranges[r].last, last_route ? *last_route : sources.first_routes[r]}};
    for (const auto& [end, route] : ends) {
      if (!shared) shared = route;
      if (route.interface_index != shared->interface_index) {
        facts.why_not = "the targets leave by several interfaces";
        return facts;
      }
      if (route.gateway != shared->gateway) {
        facts.why_not = "the targets are routed through several gateways";
        return facts;
      }
      if (!route.gateway) {
        if (on_link && *on_link != end) {
          facts.why_not = "several targets on the local link (each has its own link address)";
          return facts;
        }
        on_link = end;
      }
    }
  }
  if (!shared) return facts;
  auto info = link_info(shared->interface_index);
  if (!info) return tl::unexpected(info.error());
  link = *info;
  facts.ethernet = info->ethernet;
  if (!facts.ethernet) {
    facts.why_not = "interface " + info->name + " is not Ethernet";
    return facts;
  }
  facts.next_hop = shared->gateway ? shared->gateway : on_link;
  return facts;
}

// Frames for one family, when the decision allows them and the next hop resolves.
Result<std::optional<FrameRoute>> family_route(const TargetSet& targets, Family family, const ScanSources& sources,
                                               const std::optional<IpAddress>& source, SendMode mode,
                                               bool bypass_qdisc, std::string& why_ip) {
  if (mode == SendMode::ip) return std::optional<FrameRoute>{};  // asked for: no route to read
  std::optional<LinkInfo> link;
  auto facts = next_hop_facts(targets, family, sources, source, link);
  if (!facts) return tl::unexpected(facts.error());
  auto decision = decide_send_path(mode, *facts);
  if (!decision) return tl::unexpected(decision.error());
  if (!decision->frames) {
    if (why_ip.empty()) why_ip = decision->why_ip;
    return std::optional<FrameRoute>{};
  }
  auto mac = resolve_neighbour(*facts->next_hop, link->index, kResolveTimeout);
  if (!mac) {
    if (mode == SendMode::ethernet) return fail(ErrorCode::system, "--send-eth: " + mac.error().message);
    if (why_ip.empty()) why_ip = mac.error().message;
    return std::optional<FrameRoute>{};
  }
  return std::optional<FrameRoute>{FrameRoute{link->index, link->mac, *mac, family, bypass_qdisc}};
}
}  // namespace

Result<PathDecision> decide_send_path(SendMode mode, const NextHopFacts& facts) {
  if (mode == SendMode::ip) return PathDecision{false, ""};
  const bool possible = facts.ethernet && facts.next_hop;
  if (possible) return PathDecision{true, ""};
  const std::string why = facts.why_not.empty() ? "no single next hop" : facts.why_not;
  if (mode == SendMode::ethernet) return fail(ErrorCode::system, "--send-eth: " + why + "; use --send-ip");
  return PathDecision{false, why};
}

Result<SendPath> choose_send_path(const TargetSet& targets, const ScanSources& sources,
                                  const std::optional<IpAddress>& source, SendMode mode, bool bypass_qdisc) {
  SendPath path;
  for (const auto& range : targets.ranges()) (range.first.is_v6() ? path.has_v6 : path.has_v4) = true;
  for (const Family family : {Family::v4, Family::v6}) {
    if (!(family == Family::v4 ? path.has_v4 : path.has_v6)) continue;
    auto route = family_route(targets, family, sources, source, mode, bypass_qdisc, path.why_ip);
    if (!route) return tl::unexpected(route.error());
    (family == Family::v4 ? path.v4 : path.v6) = *route;
  }
  return path;
}

std::string send_path_name(const SendPath& path) {
  const bool all_frames = (!path.has_v4 || path.v4) && (!path.has_v6 || path.v6);
  if (!path.frames()) return "ip";
  const bool bypass = (path.v4 && path.v4->bypass_qdisc) || (path.v6 && path.v6->bypass_qdisc);
  const std::string frames = bypass ? "ethernet-bypass" : "ethernet";
  return all_frames ? frames : frames + "+ip";
}

}  // namespace tcpkit
