#include "tcpkit/wire/endpoint.hpp"

#include "tcpkit/wire/service_names.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace tcpkit {

namespace {

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

// Host names per RFC 1123 (letters, digits, '-', '.', and '_' which real zones use).
bool valid_hostname(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  size_t label = 0;
  for (char c : host) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (std::isalnum(u) || c == '-' || c == '_') {
      if (++label > 63) return false;
    } else {
      return false;
    }
  }
  return true;
}

// A name whose last label is a number (RFC 1123 2.1: a top-level domain is never all-numeric)
// is an address the strict parser refused. getaddrinfo would still take it, by inet_aton's
// old rules: "10.1.2" is 10.1.0.2, "010.0.0.1" is octal 8.0.0.1, "0x7f.1" is 127.0.0.1. A
// typo would then send probes to another host, so such text never reaches the resolver.
// Returns why it is refused, or "" for a name that may be looked up.
std::string numeric_name_problem(std::string_view host) {
  const auto dot = host.rfind('.');
  const std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  const bool hex = last.size() > 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') &&
                   std::all_of(last.begin() + 2, last.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  const bool digits = !last.empty() && std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!hex && !digits) return {};
  size_t parts = 0;
  for (size_t start = 0; start <= host.size(); ++parts) {
    const size_t end = std::min(host.find('.', start), host.size());
    const std::string_view part = host.substr(start, end - start);
    if (part.size() > 1 && part[0] == '0')
      return part[1] == 'x' || part[1] == 'X' ? "decimal numbers only (the resolver would read 0x as hex)"
                                              : "no leading zeros (the resolver would read them as octal)";
    start = end + 1;
  }
  if (parts != 4) return "write all four numbers, a.b.c.d (a name cannot end in a number)";
  return "each of the four numbers is decimal, 0 to 255";
}

// "fe80::1%eth0" -> address text and zone; the zone names an interface (at most IFNAMSIZ-1
// characters, no '/', white space or ':'). Returns the sentence that says what is wrong.
std::string split_zone(std::string_view& host, std::string& zone) {
  const auto percent = host.find('%');
  if (percent == std::string_view::npos) return {};
  const std::string_view name = host.substr(percent + 1);
  host = host.substr(0, percent);
  if (name.empty()) return "empty zone after '%'";
  if (name.size() > 15 || !std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '@';
      }))
    return "zone '" + std::string(name) + "' is not an interface name";
  const auto address = IpAddress::parse(host);
  if (address && !address->is_link_local())
    return "a zone ('%" + std::string(name) + "') belongs only to a link-local address (fe80::/10)";
  zone = std::string(name);
  return {};
}

}  // namespace

Result<uint16_t> parse_port(std::string_view text) {
  if (text.empty()) return fail(ErrorCode::bad_input, "missing port");
  if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (text.size() > 5) return fail(ErrorCode::bad_input, "port " + quoted(text) + " is out of range (1-65535)");
    unsigned value = 0;
    for (char c : text) value = value * 10 + unsigned(c - '0');
    if (value < 1 || value > 65535)
      return fail(ErrorCode::bad_input, "port " + quoted(text) + " is out of range (1-65535)");
    return static_cast<uint16_t>(value);
  }
  const bool name_like = text.size() <= 32 && std::all_of(text.begin(), text.end(), [](char c) {
                           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
                         });
  if (!name_like || text.front() == '-')
    return fail(ErrorCode::bad_input, "invalid port " + quoted(text) + ": expected 1-65535 or a service name");
  const auto port = ServiceNames{}.port(text);
  if (!port) return fail(ErrorCode::bad_input, "unknown service " + quoted(text) + " (not in /etc/services for tcp)");
  return *port;
}

Result<TargetSpec> parse_target(std::string_view text) {
  TargetSpec spec;
  spec.text = std::string(text);
  auto bad = [&](const std::string& why) { return fail(ErrorCode::bad_input, "invalid target " + quoted(text) + ": " + why); };
  if (text.empty()) return bad("empty");
  if (text.find_first_of(" \t\r\n") != std::string_view::npos) return bad("contains white space");

  std::string_view host = text;
  std::optional<std::string_view> port_text;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("expected ':PORT' after ']'");
      port_text = rest.substr(1);
    }
    if (const auto why = split_zone(host, spec.zone); !why.empty()) return bad(why);
    const auto address = IpAddress::parse(host);
    if (!address || !address->is_v6()) return bad("brackets must hold an IPv6 address");
  } else {
    const auto first = text.find(':');
    if (first != std::string_view::npos && text.find(':', first + 1) != std::string_view::npos) {
      // Two or more colons and no brackets: a bare IPv6 address, which cannot carry a port.
      if (const auto why = split_zone(host, spec.zone); !why.empty()) return bad(why);
      const auto address = IpAddress::parse(host);
      if (!address) return bad("not a valid IPv6 address (write [ADDRESS]:PORT to give a port)");
      // "fd00::2:80": a valid address, and also fd00::2 with port 80 written without brackets.
      const auto last = host.rfind(':');
      const auto group = host.substr(last + 1);
      if (spec.zone.empty() && host.find("::") != std::string_view::npos && !group.empty() && group.size() <= 5 &&
          group.find_first_not_of("0123456789") == std::string_view::npos && last >= 1 && host[last - 1] != ':' &&
          IpAddress::parse(host.substr(0, last)))
        spec.port_lookalike = std::string(host.substr(0, last));
    } else if (first != std::string_view::npos) {
      host = text.substr(0, first);
      port_text = text.substr(first + 1);
    }
    if (host.find(']') != std::string_view::npos) return bad("unbalanced ']'");
    if (host.empty()) return bad("missing host before ':'");
    if (host.find(':') == std::string_view::npos && !valid_hostname(host))
      return bad("not a valid host name or address");
  }
  if (host.empty()) return bad("missing host");
  spec.host = std::string(host);
  if (port_text) {
    if (port_text->empty()) return bad("missing port after ':'");
    auto port = parse_port(*port_text);
    if (!port) return bad(port.error().message);
    spec.port = *port;
  }
  return spec;
}

ErrorCode resolver_error_code(int eai) {
  // The resolver itself failing (no server answered, a server failure, no memory) is the
  // environment's fault, not the user's: exit 4. A name that does not exist is bad input.
  switch (eai) {
    case EAI_AGAIN:
    case EAI_FAIL:
    case EAI_SYSTEM:
    case EAI_MEMORY:
      return ErrorCode::system;
    default:
      return ErrorCode::bad_input;
  }
}

Result<std::vector<IpAddress>> resolve_host(const std::string& host, Family family) {
  if (auto parsed = IpAddress::parse(host)) {
    // An IPv4-mapped address (as ss shows a dual-stack socket's IPv4 peer) is that IPv4 host,
    // as the kernel's own dual-stack sockets take it; a raw IPv6 packet to it goes nowhere.
    const IpAddress literal = parsed->unmapped();
    if (family == Family::v4 && !literal.is_v4())
      return fail(ErrorCode::bad_input, "'" + host + "' is an IPv6 address but -4 was given");
    if (family == Family::v6 && !literal.is_v6())
      return fail(ErrorCode::bad_input, "'" + host + "' is an IPv4" + (parsed->is_v6() ? "-mapped" : "") +
                                            " address but -6 was given");
    return std::vector<IpAddress>{literal};
  }
  if (const auto why = numeric_name_problem(host); !why.empty())
    return fail(ErrorCode::bad_input, "'" + host + "' is not an IPv4 address: " + why);
  addrinfo hints{};
  hints.ai_family = family == Family::v4 ? AF_INET : family == Family::v6 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &list);
  const int saved_errno = errno;
  if (rc != 0) {
    const std::string family_word = family == Family::v4 ? " (IPv4)" : family == Family::v6 ? " (IPv6)" : "";
    return fail(resolver_error_code(rc), "cannot resolve '" + host + "'" + family_word + ": " +
                                             (rc == EAI_SYSTEM ? std::strerror(saved_errno) : gai_strerror(rc)),
                rc == EAI_SYSTEM ? saved_errno : 0);
  }
  std::vector<IpAddress> out;
  for (addrinfo* ai = list; ai; ai = ai->ai_next)
    if (auto a = IpAddress::from_sockaddr(ai->ai_addr); a && std::find(out.begin(), out.end(), *a) == out.end())
      out.push_back(*a);
  freeaddrinfo(list);
  if (out.empty()) return fail(ErrorCode::bad_input, "cannot resolve '" + host + "': no address");
  return out;
}

}  // namespace tcpkit
