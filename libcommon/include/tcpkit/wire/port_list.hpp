#pragma once
// Port lists as scanners take them: "22,80,8000-8100", "-" (all of 1-65535), "-1024" (1-1024),
// "60000-" (60000-65535), service names ("ssh,https").
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tcpkit/util/error.hpp"

namespace tcpkit {

// Sorted, without duplicates. Port 0, reversed ranges, empty items and unknown services are
// bad input with a sentence that quotes the item.
Result<std::vector<uint16_t>> parse_port_list(std::string_view text);

// The default set: about a hundred TCP ports most often found open (remote access, mail, web,
// file sharing, databases, directory and printing services). Sorted. Listed in tcpscan(1).
const std::vector<uint16_t>& default_scan_ports();

// The runs of consecutive ports of a sorted list, each as {first, last}: {22,80,81} -> {22,22},{80,81}.
std::vector<std::pair<uint16_t, uint16_t>> port_runs(const std::vector<uint16_t>& sorted_ports);

// "22,80,8000-8100": the compact form of a sorted list (runs become ranges).
std::string compress_ports(const std::vector<uint16_t>& sorted_ports);

}  // namespace tcpkit
