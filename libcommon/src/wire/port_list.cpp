#include "tcpkit/wire/port_list.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include "tcpkit/wire/endpoint.hpp"

namespace tcpkit {

namespace {
// A number 1-65535, or nothing when the text is not all digits (then it may be a service).
std::optional<long> port_number(std::string_view s) {
  if (s.empty() || s.size() > 6) return std::nullopt;
  long v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

Result<uint16_t> one_port(std::string_view item, std::string_view part) {
  if (auto n = port_number(part)) {
    if (*n < 1 || *n > 65535)
      return fail(ErrorCode::bad_input, "invalid port '" + std::string(item) + "': ports are 1 to 65535");
    return uint16_t(*n);
  }
  auto service = parse_port(part);
  if (!service)
    return fail(ErrorCode::bad_input, "invalid port '" + std::string(item) + "': not a number from 1 to 65535 "
                                      "nor a known TCP service name");
  return *service;
}
}  // namespace

Result<std::vector<uint16_t>> parse_port_list(std::string_view text) {
  if (text.empty()) return fail(ErrorCode::bad_input, "empty port list");
  std::vector<bool> wanted(65536, false);
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(start, comma - start);
    if (item.empty())
      return fail(ErrorCode::bad_input, "invalid port list '" + std::string(text) + "': empty item");
    const size_t dash = item.find('-');
    uint16_t lo, hi;
    if (dash == std::string_view::npos) {
      auto p = one_port(item, item);
      if (!p) return tl::unexpected(p.error());
      lo = hi = *p;
    } else {
      // Service names never contain '-' in ranges here: "a-b" is a range of two ports.
      const auto left = item.substr(0, dash), right = item.substr(dash + 1);
      lo = 1;
      hi = 65535;
      if (!left.empty()) {
        auto p = one_port(item, left);
        if (!p) return tl::unexpected(p.error());
        lo = *p;
      }
      if (!right.empty()) {
        auto p = one_port(item, right);
        if (!p) return tl::unexpected(p.error());
        hi = *p;
      }
      if (lo > hi)
        return fail(ErrorCode::bad_input, "invalid port range '" + std::string(item) + "': the first port is larger");
    }
    for (uint32_t p = lo; p <= hi; ++p) wanted[p] = true;
    start = comma + 1;
  }
  std::vector<uint16_t> ports;
  for (uint32_t p = 1; p <= 65535; ++p)
    if (wanted[p]) ports.push_back(uint16_t(p));
  return ports;
}

const std::vector<uint16_t>& default_scan_ports() {
  static const std::vector<uint16_t> ports = [] {
    std::vector<uint16_t> p = {
        7,     9,     13,    21,    22,    23,    25,    26,    37,    53,    79,    80,    81,    88,
        106,   110,   111,   113,   119,   135,   139,   143,   144,   179,   199,   389,   427,   443,
        444,   445,   465,   513,   514,   515,   543,   544,   548,   554,   587,   631,   636,   646,
        873,   990,   993,   995,   1025,  1026,  1027,  1028,  1029,  1110,  1433,  1521,  1720,  1723,
        1755,  1900,  2000,  2001,  2049,  2121,  2375,  2717,  3000,  3128,  3306,  3389,  3986,  4899,
        5000,  5009,  5051,  5060,  5101,  5190,  5357,  5432,  5631,  5666,  5800,  5900,  6000,  6001,
        6379,  6443,  6646,  7070,  8000,  8008,  8009,  8080,  8081,  8443,  8888,  9090,  9100,  9200,
        9999,  10000, 11211, 27017, 32768, 49152, 49153, 49154, 49155, 49156, 49157};
    std::sort(p.begin(), p.end());
    p.erase(std::unique(p.begin(), p.end()), p.end());
    return p;
  }();
  return ports;
}

std::vector<std::pair<uint16_t, uint16_t>> port_runs(const std::vector<uint16_t>& sorted_ports) {
  std::vector<std::pair<uint16_t, uint16_t>> runs;
  for (size_t i = 0; i < sorted_ports.size();) {
    size_t j = i;
    while (j + 1 < sorted_ports.size() && sorted_ports[j + 1] == sorted_ports[j] + 1) ++j;
    runs.emplace_back(sorted_ports[i], sorted_ports[j]);
    i = j + 1;
  }
  return runs;
}

std::string compress_ports(const std::vector<uint16_t>& sorted_ports) {
  std::string out;
  for (const auto& [first, last] : port_runs(sorted_ports)) {
    if (!out.empty()) out += ',';
    out += std::to_string(first);
    if (last > first) out += '-' + std::to_string(last);
  }
  return out;
}

}  // namespace tcpkit
