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

// Asks the kernel to confirm a neighbour it knows but has not heard from lately (STALE, DELAY,
// PROBE): its entry goes to PROBE and a unicast ARP request or neighbour solicitation goes out,
// as `ip neigh change ADDR dev DEV nud probe` does. The entry becomes REACHABLE when the host
// answers (at once over IPv4, within about 2 s over IPv6 here), FAILED after the kernel's
// unicast probes (about 3 s). Needs CAP_NET_ADMIN.
Result<void> probe_neighbour(const IpAddress& address, int interface_index);

// "02:42:ac:11:00:02"
std::string to_string(const MacAddress& mac);

}  // namespace tcpkit
