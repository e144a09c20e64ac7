#include "tcpkit/sockets/socket_funnel.hpp"

namespace tcpkit {

StateSet wanted_states(const SocketFilter& filter, StateSet view_states) {
  StateSet out;
  for (TcpState s : kAllTcpStates)
    if (filter.states.contains(s) && view_states.contains(s)) out.add(s);
  return out;
}

SocketSink funnel_sockets(const SocketFilter& filter, StateSet view_states, OwnersGetter owners,
                          FunnelCounts& counts, const SocketSink& sink) {
  return [filter, wanted = wanted_states(filter, view_states), owners = std::move(owners), &counts,
          sink](SocketRecord& s) {
    ++counts.seen;
    if (!wanted.contains(s.state)) return true;
    if (const auto m = filter.decide(s); m != FilterAnswer::yes) {
      counts.undecided += m == FilterAnswer::unknown;
      return true;
    }
    const SocketOwners* known = owners ? owners() : nullptr;
    if (known && s.inode) {
      if (const auto* found = known->find(*s.inode)) s.processes = *found;
      else counts.unowned += *s.inode != 0;
    }
    return sink(s);
  };
}

}  // namespace tcpkit
