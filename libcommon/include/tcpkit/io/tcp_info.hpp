#pragma once
// What the kernel knows of one of our TCP sockets (TCP_INFO): its state, RTT, options agreed
// and retransmissions.
#include <netinet/tcp.h>

#include <cstdint>
#include <optional>

namespace tcpkit {

// nullopt when fd is no TCP socket (or the call fails).
std::optional<tcp_info> socket_tcp_info(int fd);

// The lowest RTT the kernel has sampled on the connection, in microseconds (tcpi_min_rtt, which
// glibc's tcp_info lacks); nullopt when unknown.
std::optional<uint32_t> socket_min_rtt_us(int fd);

}  // namespace tcpkit
