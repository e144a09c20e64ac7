#include "tcpkit/scan/scan_seed.hpp"

namespace tcpkit {

namespace {
constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;  // SplitMix64's increment: 2^64 / phi
constexpr uint16_t kFirstSourcePort = 61000;
constexpr uint16_t kSourcePortChoices = 4000;
// Distinct inputs for the two halves of the dry run's key.
constexpr uint64_t kDryKey0 = 0x5eed, kDryKey1 = 0xc00c1e;
}  // namespace

uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t splitmix64_next(uint64_t& state) {
  state += kGolden;
  return splitmix64_mix(state);
}

uint64_t splitmix64(uint64_t z) { return splitmix64_next(z); }

uint16_t default_source_port(uint64_t seed) { return uint16_t(kFirstSourcePort + splitmix64(seed) % kSourcePortChoices); }

SipKey dry_run_key(uint64_t seed) { return SipKey{splitmix64(seed ^ kDryKey0), splitmix64(seed ^ kDryKey1)}; }

}  // namespace tcpkit
