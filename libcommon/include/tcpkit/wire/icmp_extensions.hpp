#pragma once
// ICMP extensions (RFC 4884): objects a router appends to an ICMP or ICMPv6 error after the
// datagram it quotes: MPLS label stacks (RFC 4950) and interface information (RFC 5837).
// Received bytes are untrusted: the decoder never throws and never reads past its input.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

struct MplsLabelEntry {
  uint32_t label = 0;          // 20 bits
  uint8_t traffic_class = 0;   // 3 bits (formerly EXP)
  bool bottom_of_stack = false;
  uint8_t ttl = 0;
  bool operator==(const MplsLabelEntry&) const = default;
};

// RFC 5837: which interface of the router the object names, and what it says of it.
struct InterfaceInfo {
  enum class Role : uint8_t { incoming = 0, sub_ip = 1, outgoing = 2, next_hop = 3 };
  Role role = Role::incoming;
  std::optional<uint32_t> ifindex;
  std::optional<IpAddress> address;
  std::string name;  // printable ASCII only (others replaced by '?'); empty when not given
  std::optional<uint32_t> mtu;
};

struct IcmpExtensionObject {
  uint8_t class_num = 0, c_type = 0;
  uint16_t length = 0;  // bytes, the object's header included
};

struct IcmpExtensions {
  // false: the structure was found at byte 128 of the quote with no RFC 4884 length in the
  // ICMP header, as routers older than RFC 4884 place MPLS objects (its checksum then vouches).
  bool length_field = true;
  std::vector<MplsLabelEntry> mpls;       // the label stack, top first, of every MPLS object
  std::vector<InterfaceInfo> interfaces;
  std::vector<IcmpExtensionObject> other;  // objects of other classes, not decoded
};

// message: one ICMP (v6 = false) or ICMPv6 message, from its type byte to its end. Returns the
// extensions of a destination unreachable, time exceeded or parameter problem (ICMPv4) /
// destination unreachable or time exceeded (ICMPv6) that carries a well-formed structure;
// nullopt when there is none or it does not parse (a bad version, checksum or object length).
std::optional<IcmpExtensions> decode_icmp_extensions(const uint8_t* message, size_t len, bool v6);

// One entry in words, as the tools print it: "label 16 tc 0 S ttl 1" (S: bottom of the stack).
std::string mpls_entry_text(const MplsLabelEntry& e);

// "incoming", "sub-IP", "outgoing", "next hop".
const char* interface_role_name(InterfaceInfo::Role role);
// "incoming interface ge-0/0/1 (ifindex 7, 10.1.2.3, MTU 1500)": the parts the router gave.
std::string interface_info_text(const InterfaceInfo& info);

}  // namespace tcpkit
