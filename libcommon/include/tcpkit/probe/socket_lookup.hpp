#pragma once
// The kernel's view of one TCP socket, found by its exact 4-tuple through sock_diag (it finds
// TIME_WAIT and orphaned sockets too, which no file descriptor reaches any more).
#include <optional>

#include "tcpkit/probe/conn_tracker.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/sockets/socket_record.hpp"

namespace tcpkit {

// nullopt: the kernel holds no socket for the tuple (it is CLOSED). interface_index: the
// socket's interface, which the kernel needs to find a connection between link-local
// addresses (0 for any other).
Result<std::optional<SocketRecord>> lookup_tcp_socket(const FourTuple& tuple, int interface_index = 0);

}  // namespace tcpkit
