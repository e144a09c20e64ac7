#pragma once
// Names for addresses, as traceroute and mtr show routers: reverse lookups through the system's
// resolver (/etc/hosts, then DNS, as nsswitch.conf says), all at once within one time budget.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

// One entry per address: its name, or nullopt when it has none or the answer was not back
// within budget. The resolver has no timeout of its own to give it: a lookup still running at
// the deadline is left to finish in its detached thread, and its answer is dropped. Names come
// from the network: anything but letters, digits, '.', '-' and '_' is replaced by '?'.
std::vector<std::optional<std::string>> reverse_names(const std::vector<IpAddress>& addresses,
                                                      std::chrono::milliseconds budget);

}  // namespace tcpkit
