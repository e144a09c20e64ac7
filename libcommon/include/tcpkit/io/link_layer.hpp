#pragma once
// What a frame sent below IP needs: whether an interface is Ethernet and its address, and the
// next hop's Ethernet address from the kernel's neighbour table (asked for when missing).
#include <chrono>
#include <string>

#include "tcpkit/io/neighbours.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

struct LinkInfo {
  int index = 0;
  std::string name;
  bool ethernet = false;  // ARPHRD_ETHER: frames carry a 14-byte Ethernet header
  MacAddress mac{};
};

// The interface's hardware type and address (SIOCGIFHWADDR).
Result<LinkInfo> link_info(int interface_index);

// The Ethernet address the kernel has for address on the interface. When it has none, the
// kernel is asked to resolve it (ARP or neighbour discovery, as a first packet would make it
// do) and the table is read again until timeout: an error names the address that never answered.
Result<MacAddress> resolve_neighbour(const IpAddress& address, int interface_index, std::chrono::milliseconds timeout);

// "02:42:ac:11:00:02"
std::string to_string(const MacAddress& mac);

}  // namespace tcpkit
