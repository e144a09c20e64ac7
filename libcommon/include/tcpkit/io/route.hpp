#pragma once
// Which source address and interface the kernel would use to reach a destination.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

struct Route {
  IpAddress source;
  std::string interface;       // e.g. "eth0", "lo"
  int interface_index = 0;
  std::optional<IpAddress> gateway;
  bool local = false;  // the destination is an address of this host (RTN_LOCAL): delivered through lo
};

// Asks the kernel (netlink RTM_GETROUTE, like `ip route get`). A forced source address
// (-S) or interface (-I) narrows the answer; a source of the wrong family is bad input.
Result<Route> route_to(const IpAddress& destination, const std::optional<IpAddress>& source = std::nullopt,
                       const std::string& interface = "");

// The addresses of this host's interfaces (this network namespace), every family; empty when
// they cannot be read.
std::vector<IpAddress> own_addresses();

// What the kernel's RTM_GETROUTE reply says (bytes as received; lengths in it are not trusted).
struct RouteReply {
  int interface_index = 0;
  std::optional<IpAddress> source, gateway;  // addresses of the destination's family only
  int error = 0;                             // errno of an NLMSG_ERROR reply, 0 if none
  bool local = false;                        // rtm_type RTN_LOCAL: one of this host's addresses
};
RouteReply decode_route_reply(std::span<const uint8_t> bytes, Family family);

// Interface index for a name, or a bad_input error naming the interface.
Result<int> interface_index(const std::string& name);

}  // namespace tcpkit
