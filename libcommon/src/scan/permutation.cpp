#include "tcpkit/scan/permutation.hpp"

#include <charconv>
#include <string>

#include "tcpkit/scan/scan_seed.hpp"

namespace tcpkit {

Permutation::Permutation(uint64_t size, uint64_t seed) : size_(size) {
  int bits = 2;  // a 2-bit domain at least, so each half has a bit to mix
  while (bits < 64 && (uint64_t(1) << bits) < size) ++bits;
  if (bits % 2) ++bits;
  half_bits_ = bits / 2;
  half_mask_ = (uint64_t(1) << half_bits_) - 1;
  // The round keys are consecutive SplitMix64 outputs; the permutation needs spread, not
  // secrecy (the cookie is what keeps replies honest).
  uint64_t state = seed;
  for (auto& k : keys_) k = splitmix64_next(state);
}

uint64_t Permutation::round_function(int round, uint64_t half) const {
  return splitmix64_mix(half ^ keys_[size_t(round)]) & half_mask_;
}

uint64_t Permutation::encrypt(uint64_t x) const {
  uint64_t left = x >> half_bits_, right = x & half_mask_;
  for (int r = 0; r < kRounds; ++r) {
    const uint64_t next = left ^ round_function(r, right);
    left = right;
    right = next;
  }
  return (left << half_bits_) | right;
}

uint64_t Permutation::decrypt(uint64_t x) const {
  uint64_t left = x >> half_bits_, right = x & half_mask_;
  for (int r = kRounds - 1; r >= 0; --r) {
    const uint64_t previous = right ^ round_function(r, left);
    right = left;
    left = previous;
  }
  return (left << half_bits_) | right;
}

// Cycle walking: the Feistel network permutes [0, 2^bits); following the cycle from an element
// inside [0, size) must come back inside it, and the domain is under 4 * size, so on average
// fewer than four steps are needed.
uint64_t Permutation::at(uint64_t position) const {
  uint64_t x = encrypt(position);
  while (x >= size_) x = encrypt(x);
  return x;
}

uint64_t Permutation::position_of(uint64_t element) const {
  uint64_t x = decrypt(element);
  while (x >= size_) x = decrypt(x);
  return x;
}

uint64_t Shard::length(uint64_t size) const {
  const uint64_t first = index - 1;
  if (first >= size) return 0;
  return (size - first + count - 1) / count;
}

// A sanity bound, far above any fleet of scanners: a larger N is a mistake.
constexpr uint64_t kMaxShards = uint64_t{1} << 20;

Result<Shard> parse_shard(std::string_view text) {
  auto bad = [&] {
    return fail(ErrorCode::bad_input,
                "invalid shard '" + std::string(text) + "': expected i/N with 1 <= i <= N <= " + std::to_string(kMaxShards) +
                    ", e.g. 2/4");
  };
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return bad();
  Shard s;
  const auto a = text.substr(0, slash), b = text.substr(slash + 1);
  auto ra = std::from_chars(a.data(), a.data() + a.size(), s.index);
  auto rb = std::from_chars(b.data(), b.data() + b.size(), s.count);
  if (a.empty() || b.empty() || ra.ec != std::errc() || ra.ptr != a.data() + a.size() || rb.ec != std::errc() ||
      rb.ptr != b.data() + b.size())
    return bad();
  if (s.count < 1 || s.count > kMaxShards || s.index < 1 || s.index > s.count) return bad();
  return s;
}

}  // namespace tcpkit
