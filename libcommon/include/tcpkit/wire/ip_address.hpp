#pragma once
// IPv4 and IPv6 addresses as one value type, and CIDR blocks.
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <sys/socket.h>

#include "tcpkit/util/error.hpp"

namespace tcpkit {

enum class Family { any, v4, v6 };

class IpAddress {
 public:
  IpAddress() = default;  // 0.0.0.0
  static IpAddress from_v4(const uint8_t bytes[4]);
  static IpAddress from_v4_host_order(uint32_t value);
  static IpAddress from_v6(const uint8_t bytes[16]);
  // A numeric literal ("192.0.2.1", "2001:db8::1"); no names, no brackets, no zones.
  static std::optional<IpAddress> parse(std::string_view text);
  static std::optional<IpAddress> from_sockaddr(const sockaddr* sa);

  bool is_v4() const { return family_ == Family::v4; }
  bool is_v6() const { return family_ == Family::v6; }
  Family family() const { return family_; }
  // 4 significant bytes for IPv4, 16 for IPv6.
  const uint8_t* data() const { return bytes_.data(); }
  size_t size() const { return is_v4() ? 4 : 16; }
  uint32_t v4_host_order() const;

  std::string to_string() const;
  // "[2001:db8::1]:80" or "192.0.2.1:80".
  std::string to_string_with_port(uint16_t port) const;
  // scope_id: the interface index an IPv6 link-local address needs to be bound or reached
  // (sin6_scope_id); ignored for IPv4.
  sockaddr_storage to_sockaddr(uint16_t port, socklen_t* length, uint32_t scope_id = 0) const;

  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) as the IPv4 address it stands for; any other
  // address unchanged. A dual-stack socket's IPv4 peer is then counted as that peer.
  IpAddress unmapped() const;
  // The other way: an IPv4 address as its IPv4-mapped IPv6 form, as a dual-stack (tcp6) socket
  // shows it; an IPv6 address unchanged.
  IpAddress mapped() const;

  bool is_loopback() const;
  bool is_multicast() const;
  bool is_unspecified() const;
  // IPv6 fe80::/10: meaningful only together with an interface (a zone).
  bool is_link_local() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  Family family_ = Family::v4;
  std::array<uint8_t, 16> bytes_{};
};

// "10.0.0.0/8", "2001:db8::/32"; a bare address is a /32 or /128. Host bits are cleared.
struct Cidr {
  IpAddress base;
  int prefix = 0;
  static Result<Cidr> parse(std::string_view text);
  bool contains(const IpAddress& address) const;
  std::string to_string() const;
};

}  // namespace tcpkit
