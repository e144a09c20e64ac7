#pragma once
// The kernel's neighbour table (ARP for IPv4, neighbour discovery for IPv6), as `ip neigh`
// shows it: after a scan it tells a host that never answered ARP/ND from one that did.
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tcpkit/io/route.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

enum class NeighbourState {
  unresolved,  // INCOMPLETE or FAILED: asked, never answered
  reachable,   // REACHABLE: answered recently
  stale,       // STALE, DELAY, PROBE: answered once, not lately (link_layer.hpp probe_neighbour asks again)
  other,       // PERMANENT, NOARP, NONE: no evidence either way
};

using MacAddress = std::array<uint8_t, 6>;

struct Neighbour {
  IpAddress address;
  int interface_index = 0;
  NeighbourState state = NeighbourState::other;
  std::optional<MacAddress> mac;  // the link-layer address, when the entry has an Ethernet one
};

// Both families, every interface (netlink RTM_GETNEIGH dump).
Result<std::vector<Neighbour>> read_neighbours();

// The state of address's entries in `table` on interface_index (0: on any interface): one that
// is not stale when there is such, nothing when the table has none. (Found: another link's
// entry for the address made a host that answered nothing on this one "up (answered ARP)".)
std::optional<NeighbourState> state_in_table(const std::vector<Neighbour>& table, const IpAddress& address,
                                             int interface_index = 0);

// Whether the next hop to `destination` by `route` (its gateway, else the destination itself)
// was asked for on the route's interface and never answered: what goes there never leaves this
// host. False for a destination of this host, a table that cannot be read, or no entry.
bool next_hop_unresolved(const Route& route, const IpAddress& destination);

// The words for that next hop in a verdict: "the gateway 10.0.0.1 on eth0 never answered ARP",
// "the host on eth0 never answered neighbour discovery" (one wording for every tool).
std::string unanswered_next_hop(const Route& route, const IpAddress& destination);

// Reads the table until address's entry (on interface_index, 0: any) is no longer stale,
// `deadline` passes or cancel_fd (when >= 0) becomes readable: the entry's last state, nothing
// when the table has none. For a host probe_neighbour (link_layer.hpp) asked again.
Result<std::optional<NeighbourState>> await_neighbour(const IpAddress& address,
                                                      std::chrono::steady_clock::time_point deadline, int cancel_fd,
                                                      int interface_index = 0);

// One RTM_NEWNEIGH message (bytes as received; lengths in it are not trusted): nothing when it
// is no IPv4/IPv6 entry or has no destination.
std::optional<Neighbour> decode_neighbour(std::span<const uint8_t> message);

// The kernel's NUD_* bits as a NeighbourState.
NeighbourState neighbour_state_of(uint16_t nud_state);

}  // namespace tcpkit
