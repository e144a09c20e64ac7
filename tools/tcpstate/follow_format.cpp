#include "follow_format.hpp"

#include <algorithm>

#include "tcpkit/sockets/socket_record.hpp"

namespace tcpstate {

namespace {
int64_t to_ns(const timespec& t) { return int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec; }
}  // namespace

WallClock::WallClock() {
  timespec mono{}, real{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  offset_ns_ = to_ns(real) - to_ns(mono);
}

std::string WallClock::text(uint64_t mono_ns) const {
  const int64_t ns = unix_ns(mono_ns);
  const time_t seconds = time_t(ns / 1'000'000'000);
  tm local{};
  char hms[16];
  if (localtime_r(&seconds, &local) == nullptr || strftime(hms, sizeof hms, "%H:%M:%S", &local) == 0) return "?";
  std::string micro = std::to_string((ns % 1'000'000'000) / 1000);
  return std::string(hms) + "." + std::string(6 - std::min<size_t>(6, micro.size()), '0') + micro;
}

uint64_t monotonic_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return uint64_t(to_ns(t));
}

std::string endpoint_text(const tcpkit::IpAddress& a, uint16_t port) {
  return a.family() == tcpkit::Family::v6 ? "[" + a.to_string() + "]:" + std::to_string(port)
                                          : a.to_string() + ":" + std::to_string(port);
}

std::string endpoints_text(const tcpkit::IpAddress& local, uint16_t local_port, const tcpkit::IpAddress& remote,
                           uint16_t remote_port) {
  return std::string(tcpkit::family_name(local.family())) + "  " + endpoint_text(local, local_port) + " -> " +
         endpoint_text(remote, remote_port);
}

void append_endpoints_json(std::string& out, const tcpkit::IpAddress& local, uint16_t local_port,
                           const tcpkit::IpAddress& remote, uint16_t remote_port) {
  out += ",\"family\":";
  append_json_string(out, tcpkit::family_name(local.family()));
  out += ",\"local_address\":";
  append_json_string(out, local.to_string());
  out += ",\"local_port\":";
  append_number(out, local_port);
  out += ",\"remote_address\":";
  append_json_string(out, remote.to_string());
  out += ",\"remote_port\":";
  append_number(out, remote_port);
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (char ch : text) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(static_cast<unsigned char>(ch) >> 4) & 0xf];
      out += kHex[static_cast<unsigned char>(ch) & 0xf];
    } else {
      out += ch;
    }
  }
  out += '"';
}

}  // namespace tcpstate
