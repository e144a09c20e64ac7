#include <catch2/catch.hpp>

#include <vector>

#include "tcpkit/scan/permutation.hpp"

using namespace tcpkit;

namespace {
// Every element exactly once, and position_of inverts at.
void check_bijection(uint64_t size, uint64_t seed) {
  INFO("size " << size << " seed " << seed);
  const Permutation p(size, seed);
  std::vector<bool> seen(size, false);
  for (uint64_t i = 0; i < size; ++i) {
    const uint64_t e = p.at(i);
    REQUIRE(e < size);
    REQUIRE_FALSE(seen[e]);
    seen[e] = true;
    REQUIRE(p.position_of(e) == i);
  }
}
}  // namespace

TEST_CASE("the permutation is a bijection for many sizes") {
  for (uint64_t size : {1ULL, 2ULL, 3ULL, 4ULL, 5ULL, 7ULL, 8ULL, 13ULL, 16ULL, 17ULL, 100ULL, 101ULL, 255ULL, 256ULL,
                        257ULL, 1000ULL, 1021ULL, 4096ULL, 7919ULL, 65521ULL, 65535ULL, 65536ULL, 65537ULL, 100003ULL})
    check_bijection(size, 42);
  for (uint64_t seed : {0ULL, 1ULL, 0xffffffffffffffffULL}) check_bijection(1000, seed);
}

TEST_CASE("the order depends on the seed and is repeatable") {
  const Permutation a(65535, 7), b(65535, 7), c(65535, 8);
  int same_as_c = 0, fixed_points = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    CHECK(a.at(i) == b.at(i));
    same_as_c += a.at(i) == c.at(i);
    fixed_points += a.at(i) == i;
  }
  CHECK(same_as_c < 10);     // two seeds agree by chance about 1000/65535 times
  CHECK(fixed_points < 10);  // not the identity
}

TEST_CASE("large spaces map in range and invert") {
  const uint64_t size = (uint64_t(1) << 32) * 3 + 12345;
  const Permutation p(size, 99);
  for (uint64_t i = 0; i < 2000; ++i) {
    const uint64_t pos = i * 6442450941ULL % size;
    const uint64_t e = p.at(pos);
    REQUIRE(e < size);
    REQUIRE(p.position_of(e) == pos);
  }
}

TEST_CASE("shards are disjoint and their union is complete") {
  for (uint64_t size : {1ULL, 2ULL, 10ULL, 97ULL, 1000ULL, 65535ULL}) {
    for (uint64_t count : {1ULL, 2ULL, 3ULL, 4ULL, 7ULL, 16ULL}) {
      INFO("size " << size << " shards " << count);
      const Permutation p(size, 5);
      std::vector<int> hits(size, 0);
      uint64_t total = 0;
      for (uint64_t i = 1; i <= count; ++i) {
        const Shard s{i, count};
        const uint64_t n = s.length(size);
        total += n;
        for (uint64_t k = 0; k < n; ++k) {
          const uint64_t pos = s.position(k);
          REQUIRE(pos < size);
          REQUIRE(s.owns(pos));
          REQUIRE(s.local(pos) == k);
          ++hits[p.at(pos)];
        }
      }
      CHECK(total == size);
      for (uint64_t e = 0; e < size; ++e) REQUIRE(hits[e] == 1);
    }
  }
}

TEST_CASE("shard specs parse as i/N") {
  auto s = parse_shard("2/4");
  REQUIRE(s);
  CHECK(s->index == 2);
  CHECK(s->count == 4);
  CHECK(parse_shard("1/1"));
  for (const char* bad : {"", "0/4", "5/4", "1/0", "a/b", "1/", "/2", "1/2/3", "-1/2", "1 /2", "2", "1/2000000"}) {
    INFO(bad);
    auto r = parse_shard(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::bad_input);
  }
}
