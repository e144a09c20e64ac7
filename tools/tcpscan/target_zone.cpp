#include "tcpscan/target_zone.hpp"

#include "common/target_zone.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/wire/endpoint.hpp"

namespace tcpscan {
namespace {

// text (which has a '%') as one link-local address and its zone; what (a target or an
// exclusion) names it in the message when it is not one.
tcpkit::Result<tcpkit::TargetSpec> zoned_address(const std::string& text, const std::string& what) {
  auto spec = tcpkit::parse_target(text);
  if (!spec) return spec;
  const auto address = tcpkit::IpAddress::parse(spec->host);
  if (spec->port || !address || !address->is_link_local())
    return tcpkit::fail(tcpkit::ErrorCode::bad_input, "invalid " + what + " '" + text +
                                                          "': a zone goes with one link-local address (fe80::1%eth0), ports with -p");
  return spec;
}

}  // namespace

std::string take_zone(std::string& text, Options& o) {
  if (text.find('%') == std::string::npos) return "";
  auto spec = zoned_address(text, "target");
  if (!spec) return spec.error().message;
  auto zoned = tcpkit::cli::zone_interface(text, spec->zone, o.interface,
                                           o.interface_from_zone ? "another target names" : "-I gives");
  if (!zoned) return zoned.error().message + ": a scan sends through one interface";
  o.interface_from_zone = o.interface_from_zone || o.interface.empty();
  o.interface = *zoned;
  text = spec->host;
  return "";
}

std::string take_excluded_zone(std::string& text, const Options& o) {
  if (text.find('%') == std::string::npos) return "";
  auto spec = zoned_address(text, "exclusion");
  if (!spec) return spec.error().message;
  if (o.interface.empty())
    return "exclusion '" + text + "' names interface '" + spec->zone +
           "' but the scan has none: its link-local targets need -I or a zone";
  auto zoned = tcpkit::cli::zone_interface(text, spec->zone, o.interface,
                                           o.interface_from_zone ? "a target names" : "-I gives");
  if (!zoned) return zoned.error().message + ": the scan reaches no address on another link";
  text = spec->host;
  return "";
}

}  // namespace tcpscan
