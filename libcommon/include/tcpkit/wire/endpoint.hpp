#pragma once
// Targets as users write them: "host", "host:port", "host:service", "[v6]:port", a bare IPv6
// address, a link-local one with its zone ("[fe80::1%eth0]:22", "fe80::1%eth0"), and their
// resolution to addresses.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

struct TargetSpec {
  std::string text;               // as the user wrote it
  std::string host;               // name or literal, without brackets
  std::optional<uint16_t> port;   // when the target names one
  std::string zone;               // the interface after '%' of a link-local IPv6 address
  // A bare IPv6 address whose last group reads like a port ("fd00::2:80"): it stays an address
  // (it is one), but the user may have meant [fd00::2]:80. The address before that group.
  std::optional<std::string> port_lookalike;
};

// Splits a target. Rejects empty hosts, bad or out-of-range ports, unknown services,
// unbalanced brackets and stray characters, with a sentence that quotes the input.
Result<TargetSpec> parse_target(std::string_view text);

// "80", "443", "https", "ssh": a TCP port number 1-65535 or a service name from
// /etc/services. Port 0 is refused.
Result<uint16_t> parse_port(std::string_view text);

// Resolves a host (a literal needs no lookup) with getaddrinfo, restricted to a family.
// A name that does not exist is bad input; a resolver that fails (EAI_AGAIN, EAI_FAIL,
// EAI_SYSTEM, EAI_MEMORY) is a system error. Order as the resolver gives it.
Result<std::vector<IpAddress>> resolve_host(const std::string& host, Family family);

// The ErrorCode a getaddrinfo failure (EAI_*) stands for.
ErrorCode resolver_error_code(int eai);

}  // namespace tcpkit
