#pragma once
// "fe80::1%eth0": a link-local target's zone names the interface it is reached through, as -I
// does. One rule for every tool that takes both: either one gives the interface, or both give
// the same one.
#include <string>

#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit::cli {

// The interface for `target` (as the user wrote it), whose zone is `zone` (not empty), when
// `interface` is already given ("" when not), by -I or, with given_by "another target names",
// by an earlier target's zone. Bad input when the two differ.
Result<std::string> zone_interface(const std::string& target, const std::string& zone, const std::string& interface,
                                   const std::string& given_by = "-I gives");

// A link-local address is the same on every link: without an interface (a zone or -I) it names
// no host. Bad input then, saying how to write it.
Result<void> require_link_interface(const std::string& target, const IpAddress& address, const std::string& interface);

}  // namespace tcpkit::cli
