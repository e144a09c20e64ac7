#include "tcpkit/sockets/socket_filter.hpp"

#include <algorithm>

namespace tcpkit {

Result<PortRange> PortRange::parse(std::string_view text) {
  auto bad = [&] { return fail(ErrorCode::bad_input, "invalid port or range '" + std::string(text) + "' (use 80 or 1024-2048)"); };
  const size_t dash = text.find('-');
  const auto low = parse_uint(text.substr(0, dash), UINT16_MAX);
  if (!low) return bad();
  PortRange r{static_cast<uint16_t>(*low), static_cast<uint16_t>(*low)};
  if (dash != std::string_view::npos) {
    const auto high = parse_uint(text.substr(dash + 1), UINT16_MAX);
    if (!high || *high < *low) return bad();
    r.high = static_cast<uint16_t>(*high);
  }
  return r;
}

namespace {
bool any_port(const std::vector<PortRange>& ranges, uint16_t port) {
  if (ranges.empty()) return true;
  for (const auto& r : ranges)
    if (r.contains(port)) return true;
  return false;
}
// A dual-stack socket's IPv4 peer is [::ffff:a.b.c.d]: an IPv4 network holds it too (the
// kernel's sock_diag filter, and so ss's, matches it the same way).
bool any_net(const std::vector<Cidr>& nets, const IpAddress& address) {
  if (nets.empty()) return true;
  const IpAddress v4 = address.unmapped();
  for (const auto& n : nets)
    if (n.contains(address) || (v4 != address && n.contains(v4))) return true;
  return false;
}
}  // namespace

FilterAnswer SocketFilter::decide(const SocketRecord& s) const {
  bool unknown = false;
  // Each part: skipped (unknown) when the record holds a name where the part needs a number.
  auto part = [&](bool applies, bool named, bool ok) {
    if (!applies) return true;
    if (named) {
      unknown = true;
      return true;
    }
    return ok;
  };
  if (!states.contains(s.state)) return FilterAnswer::no;
  const bool ok = part(family != Family::any, !s.family_known, s.family() == family) &&
                  part(!local_ports.empty(), !s.local_service.empty(), any_port(local_ports, s.local_port)) &&
                  part(!remote_ports.empty(), !s.remote_service.empty(), any_port(remote_ports, s.remote_port)) &&
                  part(!local_nets.empty(), !s.local_host.empty(), any_net(local_nets, s.local)) &&
                  part(!remote_nets.empty(), !s.remote_host.empty(), any_net(remote_nets, s.remote));
  if (!ok) return FilterAnswer::no;
  return unknown ? FilterAnswer::unknown : FilterAnswer::yes;
}

bool SocketFilter::chooses_listener(const SocketRecord& s) const {
  SocketFilter f = listener_candidates();
  const bool wildcard = s.local_host.empty() && s.local.is_unspecified();
  if (!wildcard || local_nets.empty()) {
    f.local_nets = local_nets;
    return f.matches(s);
  }
  // A wildcard takes the addresses of its own family, and a dual-stack "::" IPv4's as well: a
  // --src of the other family names none of its connections.
  const bool family_named = std::any_of(local_nets.begin(), local_nets.end(), [&](const Cidr& net) {
    return net.base.is_v6() == s.local.is_v6() || (s.local.is_v6() && net.base.is_v4());
  });
  return family_named && f.matches(s);
}

}  // namespace tcpkit
