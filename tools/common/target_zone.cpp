#include "common/target_zone.hpp"

namespace tcpkit::cli {

Result<std::string> zone_interface(const std::string& target, const std::string& zone, const std::string& interface,
                                   const std::string& given_by) {
  if (!interface.empty() && interface != zone)
    return fail(ErrorCode::bad_input,
                "target " + target + " names interface '" + zone + "' but " + given_by + " '" + interface + "'");
  return zone;
}

}  // namespace tcpkit::cli
