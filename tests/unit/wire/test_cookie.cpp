#include <catch2/catch.hpp>

#include <set>

#include "tcpkit/wire/cookie.hpp"

using namespace tcpkit;

TEST_CASE("SipHash-2-4 matches the reference vectors of the SipHash paper") {
  // Key 00 01 .. 0f; message 00 01 .. (len-1); expected values from the reference vectors.h.
  const SipKey key{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
  uint8_t message[64];
  for (int i = 0; i < 64; ++i) message[i] = uint8_t(i);
  const std::pair<size_t, uint64_t> vectors[] = {
      {0, 0x726fdb47dd0e0e31ULL},  {1, 0x74f839c593dc67fdULL},  {7, 0xab0200f58b01d137ULL},
      {8, 0x93f5f5799a932462ULL},  {9, 0x9e0082df0ba9e4b0ULL},  {15, 0xa129ca6149be45e5ULL},
      {16, 0x3f2acc7f57c29bdbULL}, {31, 0x32d892fad841c342ULL}, {63, 0x958a324ceb064572ULL},
  };
  for (const auto& [len, expected] : vectors) {
    INFO("length " << len);
    CHECK(siphash24(key, message, len) == expected);
  }
}

TEST_CASE("a scan cookie binds the 4-tuple and the key") {
  const ScanCookie cookie(SipKey{1, 2});
  const auto a = *IpAddress::parse("192.0.2.1"), b = *IpAddress::parse("192.0.2.2");
  const uint64_t base = cookie.of(a, 40000, b, 80);
  CHECK(cookie.of(a, 40000, b, 80) == base);  // deterministic: validation recomputes it
  CHECK(cookie.of(a, 40001, b, 80) != base);
  CHECK(cookie.of(a, 40000, b, 81) != base);
  CHECK(cookie.of(b, 40000, a, 80) != base);
  CHECK(cookie.of(a, 40000, *IpAddress::parse("192.0.2.3"), 80) != base);
  CHECK(ScanCookie(SipKey{1, 3}).of(a, 40000, b, 80) != base);
  const auto a6 = *IpAddress::parse("2001:db8::1"), b6 = *IpAddress::parse("2001:db8::2");
  CHECK(cookie.of(a6, 40000, b6, 80) != cookie.of(b6, 40000, a6, 80));
  CHECK(ScanCookie::seq_part(0x1122334455667788ULL) == 0x55667788u);
  CHECK(ScanCookie::ack_part(0x1122334455667788ULL) == 0x11223344u);
}

TEST_CASE("cookies over many ports do not collide in their sequence half") {
  const ScanCookie cookie(SipKey{3, 4});  // fixed: the test is deterministic
  const auto a = *IpAddress::parse("10.0.0.1"), b = *IpAddress::parse("10.0.0.2");
  std::set<uint32_t> seen;
  for (uint32_t port = 1; port <= 4096; ++port) seen.insert(ScanCookie::seq_part(cookie.of(a, 61000, b, uint16_t(port))));
  // 4096 draws from 2^32: a collision has probability ~0.2 %; more than one would mean a bug.
  CHECK(seen.size() >= 4095);
}

TEST_CASE("random keys differ") {
  const SipKey a = random_sip_key(), b = random_sip_key();
  CHECK((a.k0 != b.k0 || a.k1 != b.k1));
}
