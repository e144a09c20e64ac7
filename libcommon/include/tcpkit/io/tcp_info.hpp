#pragma once
// What the kernel knows of one of our TCP sockets (TCP_INFO): its state, RTT, options agreed
// and retransmissions.
#include <netinet/tcp.h>

#include <optional>

namespace tcpkit {

// nullopt when fd is no TCP socket (or the call fails).
std::optional<tcp_info> socket_tcp_info(int fd);

}  // namespace tcpkit
