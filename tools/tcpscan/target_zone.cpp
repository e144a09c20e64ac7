#include "tcpscan/target_zone.hpp"

#include "common/target_zone.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/wire/endpoint.hpp"

namespace tcpscan {

std::string take_zone(std::string& text, Options& o) {
  if (text.find('%') == std::string::npos) return "";
  auto spec = tcpkit::parse_target(text);
  if (!spec) return spec.error().message;
  const auto address = tcpkit::IpAddress::parse(spec->host);
  if (spec->port || !address || !address->is_link_local())
    return "invalid target '" + text + "': a zone goes with one link-local address (fe80::1%eth0), ports with -p";
  auto zoned = tcpkit::cli::zone_interface(text, spec->zone, o.interface,
                                           o.interface_from_zone ? "another target names" : "-I gives");
  if (!zoned) return zoned.error().message + ": a scan sends through one interface";
  o.interface_from_zone = o.interface_from_zone || o.interface.empty();
  o.interface = *zoned;
  text = spec->host;
  return "";
}

}  // namespace tcpscan
