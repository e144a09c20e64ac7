#pragma once
// A seeded random bijection over [0, size) with O(1) memory: a balanced Feistel network on the
// smallest even bit width that covers size, with cycle walking to stay inside the range. The
// inverse is as cheap as the forward map, so a reply can be turned back into its position.
#include <array>
#include <cstdint>
#include <string_view>

#include "tcpkit/util/error.hpp"

namespace tcpkit {

class Permutation {
 public:
  Permutation(uint64_t size, uint64_t seed);

  uint64_t size() const { return size_; }
  // The element at position (position < size).
  uint64_t at(uint64_t position) const;
  // The position of element (element < size): at(position_of(e)) == e.
  uint64_t position_of(uint64_t element) const;

 private:
  static constexpr int kRounds = 6;
  uint64_t encrypt(uint64_t x) const;
  uint64_t decrypt(uint64_t x) const;
  uint64_t round_function(int round, uint64_t half) const;

  uint64_t size_;
  int half_bits_ = 1;
  uint64_t half_mask_ = 1;
  std::array<uint64_t, kRounds> keys_{};
};

// Shard i of N (1-based, as written on the command line "--shard 2/4"). Shard i takes the
// positions p of the permutation with p % N == i - 1, so the shards are disjoint, their union
// is the whole space, and each one still visits its part in random order.
struct Shard {
  uint64_t index = 1;  // 1..count
  uint64_t count = 1;

  // Positions this shard covers in a space of the given size.
  uint64_t length(uint64_t size) const;
  // The k-th position of this shard (k < length(size)).
  uint64_t position(uint64_t k) const { return k * count + (index - 1); }
  bool owns(uint64_t position) const { return position % count == index - 1; }
  uint64_t local(uint64_t position) const { return position / count; }
};

// "2/4": 1 <= i <= N <= 2^20.
Result<Shard> parse_shard(std::string_view text);

}  // namespace tcpkit
