#include <catch2/catch.hpp>
#include <tins/icmp.h>
#include <tins/icmp_extension.h>
#include <tins/icmpv6.h>
#include <tins/mpls.h>
#include <tins/rawpdu.h>

#include <vector>

#include "tcpkit/wire/icmp_extensions.hpp"

using namespace tcpkit;

namespace {

// A quoted SYN's worth of bytes (IPv4 header and 20 bytes of TCP): what a router quotes.
std::vector<uint8_t> quote(size_t n = 40) {
  std::vector<uint8_t> q(n);
  for (size_t i = 0; i < n; ++i) q[i] = uint8_t(0x45 + i);
  return q;
}

Tins::MPLS mpls(uint32_t label, uint8_t tc, bool bottom, uint8_t ttl) {
  Tins::MPLS m;
  m.label(label);
  m.experimental(tc);
  m.bottom_of_stack(bottom ? 1 : 0);
  m.ttl(ttl);
  return m;
}

// libtins builds the ICMP time exceeded, pads the quote and (use_length_field) sets the RFC 4884
// length: the oracle. Without the length field it places the structure at byte 128 of the
// quote, as routers from before RFC 4884 do.
std::vector<uint8_t> time_exceeded_v4(std::vector<Tins::ICMPExtension> extensions, size_t quoted = 40,
                                      bool length_field = true) {
  Tins::ICMP icmp(Tins::ICMP::TIME_EXCEEDED);
  icmp.use_length_field(length_field);
  for (auto& e : extensions) icmp.extensions().add_extension(e);
  icmp.inner_pdu(Tins::RawPDU(quote(quoted)));
  return icmp.serialize();
}

Tins::ICMPExtension mpls_object(std::vector<Tins::MPLS> stack) {
  Tins::ICMPExtension e(1, 1);
  Tins::ICMPExtension::payload_type payload;
  for (auto& m : stack) {
    const auto bytes = m.serialize();
    payload.insert(payload.end(), bytes.begin(), bytes.end());
  }
  e.payload(payload);
  return e;
}

// The one's-complement checksum of a structure, written into its header (bytes 2-3).
void set_checksum(uint8_t* s, size_t n) {
  s[2] = s[3] = 0;
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(s[i] << 8 | s[i + 1]);
  if (n % 2) sum += uint32_t(s[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  s[2] = uint8_t(~sum >> 8);
  s[3] = uint8_t(~sum);
}

}  // namespace

TEST_CASE("icmp extensions: an MPLS label stack in an RFC 4884 time exceeded (libtins builds it)",
          "[icmp_extensions]") {
  const auto m = time_exceeded_v4({mpls_object({mpls(16, 0, false, 1), mpls(299792, 5, true, 254)})});
  const auto ext = decode_icmp_extensions(m.data(), m.size(), false);
  REQUIRE(ext);
  CHECK(ext->length_field);
  REQUIRE(ext->mpls.size() == 2);
  CHECK(ext->mpls[0] == MplsLabelEntry{16, 0, false, 1});
  CHECK(ext->mpls[1] == MplsLabelEntry{299792, 5, true, 254});
  CHECK(ext->interfaces.empty());
  CHECK(ext->other.empty());
  CHECK(mpls_entry_text(ext->mpls[1]) == "label 299792 tc 5 S ttl 254");
  // The same from a router that sets no length: found at byte 128, and marked so.
  const auto old = time_exceeded_v4({mpls_object({mpls(16, 0, true, 1)})}, 40, false);
  const auto guessed = decode_icmp_extensions(old.data(), old.size(), false);
  REQUIRE(guessed);
  CHECK_FALSE(guessed->length_field);
  CHECK(guessed->mpls == std::vector<MplsLabelEntry>{{16, 0, true, 1}});
}

TEST_CASE("icmp extensions: objects of other classes are listed, not decoded", "[icmp_extensions]") {
  Tins::ICMPExtension unknown(9, 3);
  unknown.payload({1, 2, 3, 4, 5, 6, 7, 8});
  const auto m = time_exceeded_v4({unknown, mpls_object({mpls(3, 0, true, 1)})});
  const auto ext = decode_icmp_extensions(m.data(), m.size(), false);
  REQUIRE(ext);
  REQUIRE(ext->other.size() == 1);
  CHECK((ext->other[0].class_num == 9 && ext->other[0].c_type == 3 && ext->other[0].length == 12));
  REQUIRE(ext->mpls.size() == 1);
}

TEST_CASE("icmp extensions: none, or not an error that carries them", "[icmp_extensions]") {
  const auto plain = time_exceeded_v4({});
  CHECK_FALSE(decode_icmp_extensions(plain.data(), plain.size(), false));
  Tins::ICMP echo(Tins::ICMP::ECHO_REPLY);
  echo.inner_pdu(Tins::RawPDU(quote(200)));
  const auto e = echo.serialize();
  CHECK_FALSE(decode_icmp_extensions(e.data(), e.size(), false));
  CHECK_FALSE(decode_icmp_extensions(plain.data(), 7, false));
}

TEST_CASE("icmp extensions: ICMPv6 counts the quote in 64-bit words", "[icmp_extensions]") {
  // Built by hand (libtins sets no RFC 4884 length for ICMPv6): time exceeded, length 16 words
  // (128 bytes of quote), then a structure with one MPLS entry.
  std::vector<uint8_t> m = {3, 0, 0, 0, 16, 0, 0, 0};
  const auto q = quote(128);
  m.insert(m.end(), q.begin(), q.end());
  const std::vector<uint8_t> structure = {0x20, 0, 0, 0, 0, 8, 1, 1, 0x00, 0x01, 0x01, 0x40};
  m.insert(m.end(), structure.begin(), structure.end());
  set_checksum(m.data() + 8 + 128, structure.size());
  const auto ext = decode_icmp_extensions(m.data(), m.size(), true);
  REQUIRE(ext);
  REQUIRE(ext->mpls.size() == 1);
  CHECK(ext->mpls[0] == MplsLabelEntry{16, 0, true, 64});
  // The same bytes read as ICMPv4 (length 0 in byte 5, so the place is guessed at 128): found,
  // since the checksum vouches, and marked so.
  auto v4 = m;
  v4[0] = 11;
  v4[4] = 0;
  const auto guessed = decode_icmp_extensions(v4.data(), v4.size(), false);
  REQUIRE(guessed);
  CHECK_FALSE(guessed->length_field);
}

TEST_CASE("icmp extensions: interface information (RFC 5837)", "[icmp_extensions]") {
  // Incoming interface (role 0) with ifIndex, IPv4 address, name and MTU: c-type 0b00001111.
  std::vector<uint8_t> m = {11, 0, 0, 0, 0, 32, 0, 0};
  const auto q = quote(128);
  m.insert(m.end(), q.begin(), q.end());
  std::vector<uint8_t> s = {0x20, 0, 0, 0, 0, 28, 2, 0x0f,
                            0, 0, 0, 7,                    // ifIndex 7
                            0, 1, 0, 0, 10, 0, 1, 2,       // AFI 1, 10.0.1.2
                            8, 'e', 't', 'h', '1', 0, 0, 0,  // name "eth1" (length 8)
                            0, 0, 0x05, 0xdc};             // MTU 1500
  m.insert(m.end(), s.begin(), s.end());
  set_checksum(m.data() + 8 + 128, s.size());
  const auto ext = decode_icmp_extensions(m.data(), m.size(), false);
  REQUIRE(ext);
  REQUIRE(ext->interfaces.size() == 1);
  const auto& i = ext->interfaces[0];
  CHECK(i.role == InterfaceInfo::Role::incoming);
  CHECK(i.ifindex == 7u);
  REQUIRE(i.address);
  CHECK(i.address->to_string() == "10.0.1.2");
  CHECK(i.name == "eth1");
  CHECK(i.mtu == 1500u);
  CHECK(interface_info_text(i) == "incoming interface eth1 (ifindex 7, 10.0.1.2, MTU 1500)");
  InterfaceInfo bare;
  bare.role = InterfaceInfo::Role::next_hop;
  CHECK(interface_info_text(bare) == "next hop interface");
}

TEST_CASE("icmp extensions: hostile bytes are refused, never trusted", "[icmp_extensions]") {
  auto m = time_exceeded_v4({mpls_object({mpls(16, 0, true, 1)})});
  const size_t at = 8 + 128;
  SECTION("a bad checksum") {
    m[at + 2] ^= 0xff;
    CHECK_FALSE(decode_icmp_extensions(m.data(), m.size(), false));
  }
  SECTION("an object longer than the message") {
    m[at + 4] = 0x10;
    set_checksum(m.data() + at, m.size() - at);
    CHECK_FALSE(decode_icmp_extensions(m.data(), m.size(), false));
  }
  SECTION("an object shorter than its header") {
    m[at + 5] = 2;
    set_checksum(m.data() + at, m.size() - at);
    CHECK_FALSE(decode_icmp_extensions(m.data(), m.size(), false));
  }
  SECTION("another version") {
    m[at] = 0x30;
    set_checksum(m.data() + at, m.size() - at);
    CHECK_FALSE(decode_icmp_extensions(m.data(), m.size(), false));
  }
  SECTION("a length field pointing inside the minimum quote") {
    m[5] = 10;
    CHECK_FALSE(decode_icmp_extensions(m.data(), m.size(), false));
  }
  SECTION("a name with control characters is made printable") {
    std::vector<uint8_t> x = {11, 0, 0, 0, 0, 32, 0, 0};
    const auto q = quote(128);
    x.insert(x.end(), q.begin(), q.end());
    std::vector<uint8_t> s = {0x20, 0, 0, 0, 0, 12, 2, 0x02, 8, 'a', 0x1b, '[', '2', 'J', 'b', 0};
    x.insert(x.end(), s.begin(), s.end());
    set_checksum(x.data() + at, s.size());
    const auto ext = decode_icmp_extensions(x.data(), x.size(), false);
    REQUIRE(ext);
    CHECK(ext->interfaces.at(0).name == "a?[2Jb");
  }
}
