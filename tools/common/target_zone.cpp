#include "common/target_zone.hpp"

namespace tcpkit::cli {

Result<std::string> zone_interface(const std::string& target, const std::string& zone, const std::string& interface,
                                   const std::string& given_by) {
  if (!interface.empty() && interface != zone)
    return fail(ErrorCode::bad_input,
                "target " + target + " names interface '" + zone + "' but " + given_by + " '" + interface + "'");
  return zone;
}

Result<void> require_link_interface(const std::string& target, const IpAddress& address, const std::string& interface) {
  if (!address.is_link_local() || !interface.empty()) return {};
  return fail(ErrorCode::bad_input, "link-local target " + target + " needs an interface: write [" + address.to_string() +
                                        "%IFACE]:PORT or give -I IFACE");
}

}  // namespace tcpkit::cli
