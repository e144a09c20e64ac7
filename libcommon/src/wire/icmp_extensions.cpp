// RFC 4884 extension structures after the quoted datagram of an ICMP/ICMPv6 error, with the
// MPLS label stack object (RFC 4950) and the interface information object (RFC 5837) decoded.
#include "tcpkit/wire/icmp_extensions.hpp"

#include <array>

#include "wire/wire_bytes.hpp"

namespace tcpkit {

namespace {

using wire::View;

constexpr size_t kIcmpHeader = 8;
constexpr size_t kCompatOffset = 128;  // RFC 4884 §5: where pre-RFC 4884 routers put extensions
constexpr size_t kStructureHeader = 4;
constexpr size_t kObjectHeader = 4;
constexpr uint8_t kVersion = 2;
constexpr uint8_t kClassMpls = 1, kTypeMplsIncoming = 1;
constexpr uint8_t kClassInterface = 2;
constexpr uint16_t kAfiIpv4 = 1, kAfiIpv6 = 2;

bool carries_extensions(uint8_t type, bool v6) {
  if (v6) return type == 1 || type == 3;            // unreachable, time exceeded
  return type == 3 || type == 11 || type == 12;     // unreachable, time exceeded, parameter problem
}

bool checksum_ok(View v) {
  if (v.u16(2) == 0) return true;  // not computed
  return wire::fold(wire::sum_words(v.data, v.size)) == 0;
}

void decode_mpls(View payload, IcmpExtensions& out) {
  for (size_t o = 0; payload.has(o, 4); o += 4) {
    const uint32_t w = payload.u32(o);
    out.mpls.push_back({w >> 12, uint8_t((w >> 9) & 0x7), ((w >> 8) & 1) != 0, uint8_t(w & 0xff)});
  }
}

std::string printable(View v) {
  std::string s;
  for (size_t i = 0; i < v.size && v.u8(i) != 0; ++i) s += (v.u8(i) >= 0x20 && v.u8(i) < 0x7f) ? char(v.u8(i)) : '?';
  return s;
}

// RFC 5837 §4.1: the c-type's bits say which sub-objects follow, in this order.
bool decode_interface(uint8_t c_type, View payload, IcmpExtensions& out) {
  InterfaceInfo info;
  info.role = InterfaceInfo::Role(c_type >> 6);
  size_t o = 0;
  if (c_type & 0x08) {  // ifIndex
    if (!payload.has(o, 4)) return false;
    info.ifindex = payload.u32(o);
    o += 4;
  }
  if (c_type & 0x04) {  // IP address: AFI, reserved, address
    if (!payload.has(o, 4)) return false;
    const uint16_t afi = payload.u16(o);
    const size_t n = afi == kAfiIpv4 ? 4 : afi == kAfiIpv6 ? 16 : 0;
    if (n == 0 || !payload.has(o + 4, n)) return false;
    std::array<uint8_t, 16> bytes{};
    for (size_t i = 0; i < n; ++i) bytes[i] = payload.u8(o + 4 + i);
    info.address = n == 4 ? IpAddress::from_v4(bytes.data()) : IpAddress::from_v6(bytes.data());
    o += 4 + n;
  }
  if (c_type & 0x02) {  // name: a length byte (counting itself, a multiple of 4), then the name
    if (!payload.has(o, 1)) return false;
    const size_t n = payload.u8(o);
    if (n < 4 || n % 4 != 0 || !payload.has(o, n)) return false;
    info.name = printable(payload.from(o + 1).first(n - 1));
    o += n;
  }
  if (c_type & 0x01) {  // MTU
    if (!payload.has(o, 4)) return false;
    info.mtu = payload.u32(o);
  }
  out.interfaces.push_back(std::move(info));
  return true;
}

// The structure: its header, then objects to its end. All or nothing: a structure with a bad
// object is not trusted at all.
std::optional<IcmpExtensions> decode_structure(View v, bool length_field) {
  if (!v.has(0, kStructureHeader) || (v.u8(0) >> 4) != kVersion || !checksum_ok(v)) return std::nullopt;
  if (!length_field && v.u16(2) == 0) return std::nullopt;  // guessed place: only a checksum vouches
  IcmpExtensions out;
  out.length_field = length_field;
  for (size_t o = kStructureHeader; o < v.size;) {
    if (!v.has(o, kObjectHeader)) return std::nullopt;
    const uint16_t length = v.u16(o);
    if (length < kObjectHeader || !v.has(o, length)) return std::nullopt;
    const uint8_t class_num = v.u8(o + 2), c_type = v.u8(o + 3);
    const View payload = v.from(o + kObjectHeader).first(length - kObjectHeader);
    if (class_num == kClassMpls && c_type == kTypeMplsIncoming) decode_mpls(payload, out);
    else if (class_num == kClassInterface) {
      if (!decode_interface(c_type, payload, out)) return std::nullopt;
    } else out.other.push_back({class_num, c_type, length});
    o += length;
  }
  return out;
}

}  // namespace

std::optional<IcmpExtensions> decode_icmp_extensions(const uint8_t* message, size_t len, bool v6) {
  const View m{message, len};
  if (!m.has(0, kIcmpHeader) || !carries_extensions(m.u8(0), v6)) return std::nullopt;
  const View body = m.from(kIcmpHeader);
  // RFC 4884: the quoted datagram's length, in 32-bit words (ICMPv4, byte 5) or 64-bit words
  // (ICMPv6, byte 4); 0 means no extensions, or a router from before the RFC.
  const size_t words = v6 ? m.u8(4) : m.u8(5);
  if (words != 0) {
    const size_t quoted = words * (v6 ? 8 : 4);
    if (quoted < kCompatOffset || !body.has(quoted, kStructureHeader)) return std::nullopt;
    return decode_structure(body.from(quoted), true);
  }
  if (!body.has(kCompatOffset, kStructureHeader + kObjectHeader)) return std::nullopt;
  return decode_structure(body.from(kCompatOffset), false);
}

std::string mpls_entry_text(const MplsLabelEntry& e) {
  return "label " + std::to_string(e.label) + " tc " + std::to_string(e.traffic_class) +
         (e.bottom_of_stack ? " S" : "") + " ttl " + std::to_string(e.ttl);
}

const char* interface_role_name(InterfaceInfo::Role role) {
  switch (role) {
    case InterfaceInfo::Role::incoming: return "incoming";
    case InterfaceInfo::Role::sub_ip: return "sub-IP";
    case InterfaceInfo::Role::outgoing: return "outgoing";
    case InterfaceInfo::Role::next_hop: return "next hop";
  }
  return "?";
}

std::string interface_info_text(const InterfaceInfo& i) {
  std::string details;
  auto add = [&details](const std::string& part) { details += (details.empty() ? "" : ", ") + part; };
  if (i.ifindex) add("ifindex " + std::to_string(*i.ifindex));
  if (i.address) add(i.address->to_string());
  if (i.mtu) add("MTU " + std::to_string(*i.mtu));
  std::string out = std::string(interface_role_name(i.role)) + " interface";
  if (!i.name.empty()) out += " " + i.name;
  if (!details.empty()) out += " (" + details + ")";
  return out;
}

}  // namespace tcpkit
