#pragma once
// Service names ("http", "ssh", "x11-1") to TCP ports and back through the services database
// (getservbyname_r: /etc/services, netbase), as ss and netstat print them without -n.
// Answers are cached: saved text repeats the same few names on every line.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tcpkit {

// The longest text taken for a service name: IANA's names have at most 15 characters (RFC 6335),
// a local /etc/services may hold longer ones; anything longer is not looked up.
constexpr size_t kMaxServiceName = 64;

class ServiceNames {
 public:
  // The TCP port of a name (aliases count: "www" is 80); nullopt when the database lacks it.
  std::optional<uint16_t> port(std::string_view name);
  // The name of a TCP port ("ssh" for 22), as nmap's reports show it; "" when unknown.
  const std::string& name(uint16_t port);

 private:
  std::unordered_map<std::string, std::optional<uint16_t>> cache_;
  std::unordered_map<uint16_t, std::string> names_;
};

}  // namespace tcpkit
