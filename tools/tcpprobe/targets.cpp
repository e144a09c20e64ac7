#include "tcpprobe/targets.hpp"

#include "common/cli_common.hpp"
#include "common/target_zone.hpp"
#include "tcpkit/wire/endpoint.hpp"

#include <cerrno>

namespace tcpprobe {

namespace {
constexpr uint16_t kDefaultPort = 80;  // HTTP: the service a host most often answers on (man page: default 80)
}  // namespace

// Resolves and routes one target; errors here stop the run before any packet.
namespace {
// This host's own table has no way to the target (an unreachable, blackhole or prohibit route,
// or none): connect() fails the same way, and the target never hears of it (found: connect mode
// read "from <target>: unreachable (No route to host)", exit 1, as if the target had answered).
bool refused_by_own_table(const tcpkit::Error& e) {
  return e.err_no == EHOSTUNREACH || e.err_no == ENETUNREACH || e.err_no == EACCES || e.err_no == EINVAL;
}
}  // namespace

tcpkit::Result<Target> prepare_target(const Options& o, const tcpkit::TargetSpec& spec, bool need_route) {
  const std::string& text = spec.text;
  std::string interface = o.interface;
  if (!spec.zone.empty()) {
    auto zoned = tcpkit::cli::zone_interface(text, spec.zone, interface);
    if (!zoned) return tl::unexpected(zoned.error());
    interface = *zoned;
  }
  auto family = o.family;
  if (o.source) {
    const auto literal = tcpkit::IpAddress::parse(spec.host);
    if (literal && literal->family() != o.source->family())
      return tcpkit::fail(tcpkit::ErrorCode::bad_input, "source " + o.source->to_string() + " and target " + text +
                                                            " are of different address families");
    family = o.source->family();
  }
  auto addresses = tcpkit::resolve_host(spec.host, family);
  if (!addresses) return tl::unexpected(addresses.error());
  Target t;
  t.info.target = text;
  t.info.address = addresses->front();
  t.interface = interface;
  if (auto ok = tcpkit::cli::require_link_interface(text, t.info.address, interface); !ok)
    return tl::unexpected(ok.error());
  t.info.port = spec.port.value_or(o.port.value_or(kDefaultPort));
  if (o.source && o.source->family() != t.info.address.family())
    return tcpkit::fail(tcpkit::ErrorCode::bad_input, "source " + o.source->to_string() + " and target " + text +
                                                          " are of different address families");
  auto route = tcpkit::route_to(t.info.address, o.source, interface);
  if (route) {
    t.route = *route;
    t.info.source = route->source;
    t.info.interface = route->interface;
  } else if (need_route || route.error().code == tcpkit::ErrorCode::bad_input || refused_by_own_table(route.error())) {
    return tl::unexpected(route.error());
  } else {
    t.info.source = o.source.value_or(tcpkit::IpAddress());
    t.info.interface = interface;
  }
  return t;
}

std::optional<tcpkit::AckCheckAnswer> ack_check_target(const Options& o, const Target& t) {
  tcpkit::AckCheckConfig config;
  config.destination = t.info.address;
  config.port = t.info.port;
  config.route = t.route;
  if (t.info.mode == "connect") {  // connect mode left the route to connect()
    auto route = tcpkit::route_to(t.info.address, o.source, t.interface);
    if (!route) return std::nullopt;
    config.route = *route;
  }
  config.bind_interface = !t.interface.empty();
  config.timeout = o.timeout;
  auto check = tcpkit::check_with_ack(config, tcpkit::cli::interrupt_fd());
  if (!check || tcpkit::cli::interrupted()) return std::nullopt;
  return *check;
}

}  // namespace tcpprobe
