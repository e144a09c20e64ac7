#pragma once
// What a scan derives from its seed, in one place: SplitMix64 (the project's one copy, also the
// permutation's mixer), the source-port policy and the dry run's cookie key.
#include <cstdint>

#include "tcpkit/wire/cookie.hpp"

namespace tcpkit {

// SplitMix64's finaliser: a cheap, well-mixing bijection of 64-bit words (spread, not secrecy).
uint64_t splitmix64_mix(uint64_t z);
// The next number of the SplitMix64 stream, advancing state.
uint64_t splitmix64_next(uint64_t& state);
// The first number of the stream that starts at z: independent of the numbers of z + 1...
uint64_t splitmix64(uint64_t z);

// Without -g: a port in 61000-64999, chosen by the seed. Plus one port per retry round (at most
// 20) it stays below 65536, and outside Linux's default ephemeral range (32768-60999), so no
// connection of our own kernel shares the scan's 4-tuples.
uint16_t default_source_port(uint64_t seed);

// A dry run sends nothing a forger could use, so its cookie key comes from the seed and its
// output is repeatable; a real scan takes a fresh random key (random_sip_key()).
SipKey dry_run_key(uint64_t seed);

}  // namespace tcpkit
