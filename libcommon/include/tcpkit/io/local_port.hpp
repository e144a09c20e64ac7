#pragma once
// Our end of a socket: which local port the kernel gave it, and a port held for a crafted
// connection so that no other socket on this host can take it meanwhile.
#include <cstdint>
#include <optional>
#include <vector>

#include "tcpkit/io/unique_fd.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

// The local port of a bound or connected socket (getsockname); nullopt when it has none.
std::optional<uint16_t> local_port(int fd);

// A bound, never-connected TCP socket holding a port: it matches no arriving segment, so our
// kernel answers nothing differently, but no connect() of ours or anyone's can take the port.
struct ReservedPort {
  UniqueFd holder;
  uint16_t port = 0;
};

// Binds a TCP socket to (source, 0) for an ephemeral port from the kernel, or to (source, port)
// for a port the user chose (-s). A link-local source needs its interface index as scope_id, or
// the kernel refuses the bind. A source that is not an address of this host is bad input (it
// also serves to check a -S before anything is sent). A chosen port that a socket of this host
// holds (a connection, a listener, a TIME_WAIT, another run of ours) is refused: the answers on
// its 4-tuple could be that socket's, not our probes'.
Result<ReservedPort> reserve_port(const IpAddress& source, uint32_t scope_id = 0, uint16_t port = 0);

// A chosen port held on each of these sources (an address and its scope_id, as above; one
// listed twice is held once), for a run that sends from it with raw sockets. A source that is
// not this host's (a spoofed -S), or a port below 1024 this process may not bind (no
// CAP_NET_BIND_SERVICE), is left unheld; any other failure, EADDRINUSE above all, is the error.
struct PortSource {
  IpAddress address;
  uint32_t scope_id = 0;
};
Result<std::vector<UniqueFd>> hold_port(const std::vector<PortSource>& sources, uint16_t port);

}  // namespace tcpkit
