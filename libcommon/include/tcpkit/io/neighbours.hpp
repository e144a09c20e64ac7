#pragma once
// The kernel's neighbour table (ARP for IPv4, neighbour discovery for IPv6), as `ip neigh`
// shows it: after a scan it tells a host that never answered ARP/ND from one that did.
#include <cstdint>
#include <vector>

#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

enum class NeighbourState {
  unresolved,  // INCOMPLETE or FAILED: asked, never answered
  reachable,   // REACHABLE: answered recently
  other,       // STALE, DELAY, PROBE, PERMANENT, NOARP: no fresh evidence either way
};

struct Neighbour {
  IpAddress address;
  int interface_index = 0;
  NeighbourState state = NeighbourState::other;
};

// Both families, every interface (netlink RTM_GETNEIGH dump).
Result<std::vector<Neighbour>> read_neighbours();

// The kernel's NUD_* bits as a NeighbourState.
NeighbourState neighbour_state_of(uint16_t nud_state);

}  // namespace tcpkit
