#pragma once
// "fe80::1%eth0": a link-local target names its interface, as in tcpprobe; the zone stands for
// -I. One scan sends through one interface, so every zone (on the command line or in an -iL
// file) must name -I's, or each other's.
#include <string>

#include "tcpscan/options.hpp"

namespace tcpscan {

// Takes the zone off a target that has one: text becomes the address alone and o.interface the
// zone. "" when done (or there was none), else why the target cannot be scanned.
std::string take_zone(std::string& text, Options& o);

// The same for an exclusion (--exclude, --exclude-file), once every target's zone is taken: its
// zone must name the scan's interface, which it leaves unchanged (an exclusion sends nothing).
std::string take_excluded_zone(std::string& text, const Options& o);

}  // namespace tcpscan
