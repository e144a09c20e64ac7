#pragma once
// The list filters of tcpstate: states, ports (single or ranges), addresses (CIDR), family.
// The same filter applies to every source, so saved text and live tables are cut alike.
#include <cstdint>
#include <string_view>
#include <vector>

#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/sockets/socket_record.hpp"
#include "tcpkit/sockets/tcp_state.hpp"

namespace tcpkit {

// "80" or "1024-2048".
struct PortRange {
  uint16_t low = 0;
  uint16_t high = 65535;
  static Result<PortRange> parse(std::string_view text);
  bool contains(uint16_t port) const { return port >= low && port <= high; }
};

// A filter's answer: saved text can name a host or service where the filter needs a number.
enum class FilterAnswer { no, yes, unknown };

struct SocketFilter {
  StateSet states = StateSet::all();
  Family family = Family::any;
  std::vector<PortRange> local_ports;   // any of them (--sport)
  std::vector<PortRange> remote_ports;  // --dport
  std::vector<Cidr> local_nets;         // --src
  std::vector<Cidr> remote_nets;        // --dst

  bool matches(const SocketRecord& s) const { return decide(s) == FilterAnswer::yes; }
  // no when a part that can be decided says no; unknown when the rest needs an address,
  // port or family that the record only has as a name.
  FilterAnswer decide(const SocketRecord& s) const;
  // Only the state and family parts, which the kernel can apply itself.
  bool only_states_and_family() const {
    return local_ports.empty() && remote_ports.empty() && local_nets.empty() && remote_nets.empty();
  }
  // What can choose a listener, whatever --state, --dst or --dport say (its remote side is all
  // zeros, its state LISTEN): the family, --sport, and --src, except that a wildcard listener
  // (0.0.0.0, ::) takes connections on every local address, so a --src of its family chooses it
  // (found: a flood on 0.0.0.0:7200 read QUIET with --src naming the server's only address).
  bool chooses_listener(const SocketRecord& s) const;
  // The sockets to read so that every listener chooses_listener() keeps is among them: the
  // family and --sport, every state and address.
  SocketFilter listener_candidates() const {
    SocketFilter f = *this;
    f.states = StateSet::all();
    f.remote_ports.clear();
    f.remote_nets.clear();
    f.local_nets.clear();
    return f;
  }
};

}  // namespace tcpkit
