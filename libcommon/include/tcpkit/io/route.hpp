#pragma once
// Which source address and interface the kernel would use to reach a destination.
#include <optional>
#include <string>

#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

struct Route {
  IpAddress source;
  std::string interface;       // e.g. "eth0", "lo"
  int interface_index = 0;
  std::optional<IpAddress> gateway;
};

// Asks the kernel (netlink RTM_GETROUTE, like `ip route get`). A forced source address
// (-S) or interface (-I) narrows the answer; a source of the wrong family is bad input.
Result<Route> route_to(const IpAddress& destination, const std::optional<IpAddress>& source = std::nullopt,
                       const std::string& interface = "");

// Interface index for a name, or a bad_input error naming the interface.
Result<int> interface_index(const std::string& name);

}  // namespace tcpkit
