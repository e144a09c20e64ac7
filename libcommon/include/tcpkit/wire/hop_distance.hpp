#pragma once
// How far away a packet's sender is, from the TTL (hop limit) it arrived with.
#include <cstdint>

namespace tcpkit {

// The hop an answer came from on a path as long back as out: the usual initial TTL (64, 128 or
// 255; 32 for old stacks), the smallest not below the arrival TTL, less what arrived, plus one.
// 0 for a TTL of 0. Two answers of one host compare by it even when it sends them with different
// initial TTLs (a listener's SYN/ACK at its socket's IP_TTL, a reset at the system's default).
int answer_hop(uint8_t arrival_ttl);

}  // namespace tcpkit
