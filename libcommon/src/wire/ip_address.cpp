#include "tcpkit/wire/ip_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace tcpkit {

IpAddress IpAddress::from_v4(const uint8_t bytes[4]) {
  IpAddress a;
  a.family_ = Family::v4;
  std::memcpy(a.bytes_.data(), bytes, 4);
  return a;
}

IpAddress IpAddress::from_v4_host_order(uint32_t value) {
  const uint8_t b[4] = {uint8_t(value >> 24), uint8_t(value >> 16), uint8_t(value >> 8), uint8_t(value)};
  return from_v4(b);
}

IpAddress IpAddress::from_v6(const uint8_t bytes[16]) {
  IpAddress a;
  a.family_ = Family::v6;
  std::memcpy(a.bytes_.data(), bytes, 16);
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  const std::string s(text);
  uint8_t buf[16];
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), buf) == 1) return from_v4(buf);
    return std::nullopt;
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return from_v6(buf);
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::from_sockaddr(const sockaddr* sa) {
  if (!sa) return std::nullopt;
  if (sa->sa_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, sa, sizeof sin);
    return from_v4(reinterpret_cast<const uint8_t*>(&sin.sin_addr));
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, sa, sizeof sin6);
    return from_v6(sin6.sin6_addr.s6_addr);
  }
  return std::nullopt;
}

uint32_t IpAddress::v4_host_order() const {
  return (uint32_t(bytes_[0]) << 24) | (uint32_t(bytes_[1]) << 16) | (uint32_t(bytes_[2]) << 8) | bytes_[3];
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

std::string IpAddress::to_string_with_port(uint16_t port) const {
  return is_v4() ? to_string() + ":" + std::to_string(port) : "[" + to_string() + "]:" + std::to_string(port);
}

sockaddr_storage IpAddress::to_sockaddr(uint16_t port, socklen_t* length, uint32_t scope_id) const {
  sockaddr_storage ss{};
  if (is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, bytes_.data(), 4);
    if (length) *length = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, bytes_.data(), 16);
    sin6->sin6_scope_id = scope_id;
    if (length) *length = sizeof(sockaddr_in6);
  }
  return ss;
}

namespace {
// ::ffff:0:0/96 (RFC 4291 2.5.5.2): the first 12 bytes of an IPv4-mapped IPv6 address; the
// IPv4 address is the last 4.
constexpr std::array<uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}  // namespace

IpAddress IpAddress::unmapped() const {
  if (!is_v6() || !std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), bytes_.begin())) return *this;
  return from_v4(bytes_.data() + kMappedPrefix.size());
}

IpAddress IpAddress::mapped() const {
  if (!is_v4()) return *this;
  uint8_t b[16] = {};
  std::copy(kMappedPrefix.begin(), kMappedPrefix.end(), b);
  std::copy(bytes_.begin(), bytes_.begin() + 4, b + kMappedPrefix.size());
  return from_v6(b);
}

bool IpAddress::is_loopback() const {
  if (is_v4()) return bytes_[0] == 127;
  static const uint8_t loop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(bytes_.data(), loop6, 16) == 0;
}

bool IpAddress::is_multicast() const { return is_v4() ? (bytes_[0] & 0xf0) == 0xe0 : bytes_[0] == 0xff; }

bool IpAddress::is_link_local() const { return is_v6() && bytes_[0] == 0xfe && (bytes_[1] & 0xc0) == 0x80; }

bool IpAddress::is_unspecified() const {
  for (size_t i = 0; i < size(); ++i)
    if (bytes_[i]) return false;
  return true;
}

Result<Cidr> Cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  const auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return fail(ErrorCode::bad_input, "invalid address '" + std::string(text) + "'");
  const int bits = address->is_v4() ? 32 : 128;
  int prefix = bits;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3) return fail(ErrorCode::bad_input, "invalid prefix length in '" + std::string(text) + "'");
    prefix = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return fail(ErrorCode::bad_input, "invalid prefix length in '" + std::string(text) + "'");
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > bits)
      return fail(ErrorCode::bad_input, "prefix length /" + std::to_string(prefix) + " is too long for '" + std::string(text) + "'");
  }
  uint8_t bytes[16] = {};
  std::memcpy(bytes, address->data(), address->size());
  for (int i = prefix; i < bits; ++i) bytes[i / 8] &= uint8_t(~(0x80u >> (i % 8)));
  Cidr c;
  c.base = address->is_v4() ? IpAddress::from_v4(bytes) : IpAddress::from_v6(bytes);
  c.prefix = prefix;
  return c;
}

bool Cidr::contains(const IpAddress& address) const {
  if (address.family() != base.family()) return false;
  for (int i = 0; i < prefix; ++i) {
    const uint8_t mask = uint8_t(0x80u >> (i % 8));
    if ((address.data()[i / 8] & mask) != (base.data()[i / 8] & mask)) return false;
  }
  return true;
}

std::string Cidr::to_string() const { return base.to_string() + "/" + std::to_string(prefix); }

}  // namespace tcpkit
