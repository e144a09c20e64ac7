#include "tcpkit/wire/cookie.hpp"

#include <sys/random.h>

#include <chrono>
#include <cstring>

namespace tcpkit {

namespace {
inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct SipState {
  uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
  }
  void absorb(uint64_t m) {  // two compression rounds per 8-byte word (the "2" of 2-4)
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
}  // namespace

uint64_t siphash24(const SipKey& key, const uint8_t* data, size_t len) {
  SipState s{key.k0 ^ 0x736f6d6570736575ULL, key.k1 ^ 0x646f72616e646f6dULL, key.k0 ^ 0x6c7967656e657261ULL,
             key.k1 ^ 0x7465646279746573ULL};
  const size_t whole = len - len % 8;
  for (size_t i = 0; i < whole; i += 8) s.absorb(load_le64(data + i));
  // The last word carries the remaining bytes and the length in its top byte.
  uint64_t last = uint64_t(len & 0xff) << 56;
  for (size_t i = 0; i < len % 8; ++i) last |= uint64_t(data[whole + i]) << (8 * i);
  s.absorb(last);
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();  // four finalisation rounds (the "4")
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

SipKey random_sip_key() {
  uint8_t bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n <= 0) break;
    got += size_t(n);
  }
  SipKey key;
  if (got == sizeof bytes) {
    key.k0 = load_le64(bytes);
    key.k1 = load_le64(bytes + 8);
  } else {
    const auto now = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
    key.k0 = now * 0x9e3779b97f4a7c15ULL;
    key.k1 = rotl(now, 29) ^ 0xd1b54a32d192ed03ULL;
  }
  return key;
}

uint64_t ScanCookie::of(const IpAddress& local, uint16_t local_port, const IpAddress& remote,
                        uint16_t remote_port) const {
  // Fixed layout: family, both ports, both addresses (4 or 16 bytes each).
  uint8_t buf[1 + 4 + 32];
  size_t n = 0;
  buf[n++] = local.is_v4() ? 4 : 6;
  buf[n++] = uint8_t(local_port >> 8);
  buf[n++] = uint8_t(local_port);
  buf[n++] = uint8_t(remote_port >> 8);
  buf[n++] = uint8_t(remote_port);
  std::memcpy(buf + n, local.data(), local.size());
  n += local.size();
  std::memcpy(buf + n, remote.data(), remote.size());
  n += remote.size();
  return siphash24(key_, buf, n);
}

}  // namespace tcpkit
