#pragma once
// What socket_filter.hpp promises for every source, in one place: each record a source reads
// (sock_diag, /proc/net/tcp, ss or netstat text) is counted, passed on only when its state is
// wanted and the filter says yes, and given the processes that hold it.
#include <cstddef>
#include <functional>

#include "tcpkit/sockets/socket_filter.hpp"
#include "tcpkit/sockets/socket_owners.hpp"
#include "tcpkit/sockets/socket_record.hpp"
#include "tcpkit/sockets/tcp_state.hpp"

namespace tcpkit {

struct FunnelCounts {
  size_t seen = 0;       // records the source produced, before the filter
  size_t undecided = 0;  // left out: the filter needed a number where saved text had a name
  size_t unowned = 0;    // passed on with an inode that no process was found holding
};

// The states a view reads: the filter's, narrowed to those the view needs (and what the
// kernel is asked for).
StateSet wanted_states(const SocketFilter& filter, StateSet view_states);

// Where a funnel finds the process owners: called at each record that passes, so the scan of
// /proc can wait for the first one (after the source opened); null for none.
using OwnersGetter = std::function<const SocketOwners*()>;

// A sink for a source: each record is counted in counts; one whose state is in
// wanted_states(filter, view_states) and that the filter decides yes on gets its owners
// (when owners is set and gives some) and goes on to sink; the others return true (read on).
// The returned sink keeps copies of filter, owners and sink; counts must outlive it.
SocketSink funnel_sockets(const SocketFilter& filter, StateSet view_states, OwnersGetter owners,
                          FunnelCounts& counts, const SocketSink& sink);

}  // namespace tcpkit
