#pragma once
// The lowest RTT the kernel has sampled on one of our TCP connections (TCP_INFO's tcpi_min_rtt,
// which glibc's struct tcp_info lacks: tcp_min_rtt.cpp reads the kernel's own struct).
#include <cstdint>
#include <optional>

namespace tcpkit {

// In microseconds; nullopt when fd is no TCP socket, or the kernel knows none.
std::optional<uint32_t> socket_min_rtt_us(int fd);

}  // namespace tcpkit
