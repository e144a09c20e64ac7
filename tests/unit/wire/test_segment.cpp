#include <catch2/catch.hpp>

#include <tins/ip.h>
#include <tins/ipv6.h>
#include <tins/rawpdu.h>
#include <tins/tcp.h>

#include <random>

#include "fixture_packets.hpp"
#include "segment_spec.hpp"
#include "tcpkit/wire/segment.hpp"

using namespace tcpkit;

namespace {

// The Internet checksum over the pseudo-header and TCP segment: 0 when the segment is intact.
uint16_t tcp_checksum_residue(const std::vector<uint8_t>& ip) {
  uint32_t sum = 0;
  auto add = [&](const uint8_t* p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
    if (n % 2) sum += uint32_t(p[n - 1] << 8);
  };
  size_t header = 0, length = 0;
  if ((ip[0] >> 4) == 4) {
    header = size_t(ip[0] & 15) * 4;
    length = ip.size() - header;
    add(&ip[12], 8);
    sum += 6 + uint32_t(length);
  } else {
    header = 40;
    length = ip.size() - 40;
    add(&ip[8], 32);
    sum += 6 + uint32_t(length);
  }
  add(&ip[header], length);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

SegmentSpec spec_from(const DecodedPacket& d, const std::vector<uint8_t>& raw) {
  SegmentSpec s = tcpkit_test::spec_from(d);
  const size_t payload_at = raw.size() - d.tcp.payload_length;
  s.payload.assign(raw.begin() + long(payload_at), raw.end());
  return s;
}

// libtins as the oracle: the same segment, serialised by libtins with the same options in the
// same order. craft_segment must give exactly these bytes.
std::vector<uint8_t> libtins_bytes(const SegmentSpec& spec) {
  Tins::TCP tcp(spec.dport, spec.sport);
  tcp.seq(spec.seq);
  tcp.ack_seq(spec.ack);
  tcp.flags(spec.flags);
  tcp.window(spec.window);
  tcp.urg_ptr(spec.urgent);
  for (size_t i = 0; i < spec.options.count(); ++i) {
    const TcpOption o = spec.options.at(i);
    if (o.kind == tcp_option::nop || o.kind == tcp_option::eol)
      tcp.add_option(Tins::TCP::option(Tins::TCP::OptionTypes(o.kind)));
    else
      tcp.add_option(Tins::TCP::option(Tins::TCP::OptionTypes(o.kind), o.data.size(), o.data.data()));
  }
  Tins::PDU::serialization_type bytes;
  if (spec.dst.is_v4()) {
    Tins::IP ip(Tins::IPv4Address(spec.dst.to_string()), Tins::IPv4Address(spec.src.to_string()));
    ip.ttl(spec.ttl);
    ip.id(spec.ip_id);
    ip.flags(Tins::IP::DONT_FRAGMENT);
    if (spec.payload.empty())
      ip /= tcp;
    else
      ip /= tcp / Tins::RawPDU(spec.payload);
    bytes = ip.serialize();
  } else {
    Tins::IPv6 ip(Tins::IPv6Address(spec.dst.to_string()), Tins::IPv6Address(spec.src.to_string()));
    ip.hop_limit(spec.ttl);
    if (spec.payload.empty())
      ip /= tcp;
    else
      ip /= tcp / Tins::RawPDU(spec.payload);
    bytes = ip.serialize();
  }
  return {bytes.begin(), bytes.end()};
}

}  // namespace

TEST_CASE("decoder reads a real kernel IPv4 handshake and close") {
  const auto packets = load_packets("handshake_close_v4.hex");
  REQUIRE(packets.size() == 11);
  const auto syn = decode_packet(packets[0].data(), packets[0].size());
  REQUIRE(syn);
  CHECK(syn->kind == DecodedPacket::Kind::tcp);
  CHECK(syn->src.to_string() == "127.0.0.1");
  CHECK(syn->tcp.dport == 8080);
  CHECK(syn->tcp.flags == tcp_flag::syn);
  CHECK(syn->ttl == 64);
  CHECK(syn->tcp.options.mss() == 65495);
  CHECK(syn->tcp.options.sack_permitted());
  CHECK(syn->tcp.options.window_scale() == 10);
  REQUIRE(syn->tcp.options.timestamps());
  CHECK(syn->tcp.options.timestamps()->second == 0);
  CHECK_FALSE(syn->tcp.options.malformed());

  const auto synack = decode_packet(packets[1].data(), packets[1].size());
  REQUIRE(synack);
  CHECK(synack->tcp.flags == (tcp_flag::syn | tcp_flag::ack));
  CHECK(synack->tcp.ack == syn->tcp.seq + 1);
  CHECK(synack->tcp.options.timestamps()->second == syn->tcp.options.timestamps()->first);

  const auto data = decode_packet(packets[3].data(), packets[3].size());
  REQUIRE(data);
  CHECK(data->tcp.payload_length == 5);
  CHECK(data->tcp.seq == syn->tcp.seq + 1);
  CHECK(flags_compact(data->tcp.flags) == "P.");

  const auto fin = decode_packet(packets[5].data(), packets[5].size());
  CHECK(flags_compact(fin->tcp.flags) == "F.");
  CHECK(fin->tcp.seq == syn->tcp.seq + 6);  // 1 + 5 bytes of data

  const auto rst = decode_packet(packets[10].data(), packets[10].size());
  REQUIRE(rst);
  CHECK(flags_compact(rst->tcp.flags) == "R.");
  const auto refused_syn = decode_packet(packets[9].data(), packets[9].size());
  CHECK(rst->tcp.ack == refused_syn->tcp.seq + 1);
  CHECK(rst->tcp.seq == 0);
}

TEST_CASE("decoder reads a real kernel IPv6 handshake") {
  const auto packets = load_packets("handshake_close_v6.hex");
  REQUIRE(packets.size() == 11);
  const auto syn = decode_packet(packets[0].data(), packets[0].size());
  REQUIRE(syn);
  CHECK(syn->src.to_string() == "::1");
  CHECK(syn->tcp.options.mss() == 65476);
  const auto data = decode_packet(packets[3].data(), packets[3].size());
  CHECK(data->tcp.payload_length == 5);
  CHECK(data->ip_length == packets[3].size());
}

TEST_CASE("crafting reproduces real kernel segments byte for byte (but the checksum)") {
  for (const char* file : {"handshake_close_v4.hex", "handshake_close_v6.hex"}) {
    for (const auto& raw : load_packets(file)) {
      INFO(file);
      const auto d = decode_packet(raw.data(), raw.size());
      REQUIRE(d);
      auto crafted = craft_segment(spec_from(*d, raw));
      REQUIRE(crafted);
      REQUIRE(crafted->size() == raw.size());
      // Our checksum is right even where the kernel left a partial one (loopback).
      CHECK(tcp_checksum_residue(*crafted) == 0);
      const bool v4 = d->src.is_v4();
      const size_t checksum_at = (v4 ? 20 : 40) + 16;
      for (size_t i = 0; i < raw.size(); ++i) {
        if (i == checksum_at || i == checksum_at + 1) continue;
        if (!v4 && i >= 1 && i <= 3) continue;  // the kernel's random IPv6 flow label
        INFO("byte " << i);
        CHECK(int((*crafted)[i]) == int(raw[i]));
      }
      // And crafting then decoding gives the fields back.
      const auto again = decode_packet(crafted->data(), crafted->size());
      REQUIRE(again);
      CHECK(again->tcp.seq == d->tcp.seq);
      CHECK(again->tcp.options.to_string() == d->tcp.options.to_string());
    }
  }
}

TEST_CASE("crafting refuses mixed address families") {
  SegmentSpec s;
  s.src = *IpAddress::parse("10.0.0.1");
  s.dst = *IpAddress::parse("::1");
  CHECK_FALSE(craft_segment(s));
}

// A random ordered list: known kinds, NOPs and unknown kinds in any order, as much as fits,
// NOP-padded to whole words (where libtins and we would pad differently).
TcpOptions random_options(std::mt19937& rng) {
  auto any = [&](uint32_t n) { return uint32_t(rng() % n); };
  TcpOptions o;
  size_t used = 0;
  for (uint32_t n = any(8); n > 0; --n) {
    TcpOptions one;
    switch (any(7)) {
      case 0: one.add_mss(uint16_t(rng())); break;
      case 1: one.add_sack_permitted(); break;
      case 2: one.add_timestamps(rng(), rng()); break;
      case 3: one.add_window_scale(uint8_t(any(15))); break;
      case 4: one.add_nop(); break;
      case 5: {
        std::vector<std::pair<uint32_t, uint32_t>> blocks(1 + any(3));
        for (auto& [l, r] : blocks) l = rng(), r = rng();
        one.add_sack(blocks);
        break;
      }
      default: {
        std::vector<uint8_t> data(1 + any(4));  // libtins cannot write an unknown kind without data
        for (auto& b : data) b = uint8_t(rng());
        one.add(uint8_t(9 + any(240)), data);  // a kind no builder above writes
      }
    }
    if (used + one.bytes().size() > 40) break;
    for (size_t i = 0; i < one.count(); ++i) o.add(one.at(i).kind, one.at(i).data);
    used += one.bytes().size();
  }
  while (used % 4) o.add_nop(), ++used;
  return o;
}

TEST_CASE("crafted bytes equal libtins' for random segments, IPv4 and IPv6") {
  std::mt19937 rng(20261130);
  auto any = [&](uint32_t n) { return uint32_t(rng() % n); };
  for (int i = 0; i < 3000; ++i) {
    SegmentSpec s;
    uint8_t a[16];
    for (auto& b : a) b = uint8_t(rng());
    const bool v4 = i % 2 == 0;
    s.src = v4 ? IpAddress::from_v4(a) : IpAddress::from_v6(a);
    for (auto& b : a) b = uint8_t(rng());
    s.dst = v4 ? IpAddress::from_v4(a) : IpAddress::from_v6(a);
    s.sport = uint16_t(rng());
    s.dport = uint16_t(rng());
    s.seq = rng();
    s.ack = rng();
    s.flags = uint8_t(rng());
    s.window = uint16_t(rng());
    s.urgent = uint16_t(rng());
    s.ttl = uint8_t(rng());
    s.ip_id = uint16_t(rng());
    s.options = random_options(rng);
    s.payload.resize(any(4) == 0 ? any(1500) : 0);
    for (auto& b : s.payload) b = uint8_t(rng());
    INFO("segment " << i << " options " << s.options.to_string() << " payload " << s.payload.size());
    auto ours = craft_segment(s);
    REQUIRE(ours);
    REQUIRE(*ours == libtins_bytes(s));
  }
}

TEST_CASE("crafting refuses options that do not fit in a TCP header") {
  SegmentSpec s;
  s.src = *IpAddress::parse("10.0.0.1");
  s.dst = *IpAddress::parse("10.0.0.2");
  const std::pair<uint32_t, uint32_t> blocks[] = {{1, 2}, {3, 4}, {5, 6}};
  s.options = linux_layout();
  s.options.add_nop().add_nop().add_sack(blocks);  // 20 + 28 bytes
  auto bytes = craft_segment(s);
  REQUIRE_FALSE(bytes);
  CHECK(bytes.error().message.find("need 48 bytes; at most 40") != std::string::npos);
  s.options = linux_layout();
  s.options.add_nop().add_nop().add_sack(std::span(blocks, 2));  // 20 + 20: fits
  CHECK(craft_segment(s));
}

TEST_CASE("a crafted Linux-style SYN has Linux's option layout") {
  SegmentSpec s;
  s.src = *IpAddress::parse("10.0.0.1");
  s.dst = *IpAddress::parse("10.0.0.2");
  s.sport = 40000;
  s.dport = 80;
  s.seq = 0xfffffff0;
  s.flags = tcp_flag::syn;
  s.options = linux_layout(1460, 77);
  auto bytes = craft_segment(s);
  REQUIRE(bytes);
  CHECK(bytes->size() == 20 + 40);
  const std::vector<uint8_t> options(bytes->begin() + 40, bytes->end());
  const std::vector<uint8_t> expected = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 77, 0, 0, 0, 0, 1, 3, 3, 7};
  CHECK(options == expected);
  CHECK(tcp_checksum_residue(*bytes) == 0);
}

TEST_CASE("ICMP errors expose the quoted TCP header") {
  const auto packets = load_packets("icmp_errors.hex");
  REQUIRE(packets.size() == 2);
  const auto v4 = decode_packet(packets[0].data(), packets[0].size());
  REQUIRE(v4);
  REQUIRE(v4->kind == DecodedPacket::Kind::icmp_error);
  CHECK_FALSE(v4->icmp.v6);
  CHECK(v4->icmp.type == 3);
  CHECK(v4->icmp.code == 13);  // nftables' admin-prohibited
  CHECK(v4->icmp.description() == "communication administratively prohibited");
  CHECK(v4->icmp.quoted.protocol == 6);
  CHECK(v4->icmp.quoted.dport == 9);
  CHECK(v4->icmp.quoted.ports_known);
  CHECK(v4->icmp.quoted.seq.has_value());

  const auto v6 = decode_packet(packets[1].data(), packets[1].size());
  REQUIRE(v6);
  REQUIRE(v6->kind == DecodedPacket::Kind::icmp_error);
  CHECK(v6->icmp.v6);
  CHECK(v6->icmp.type == 1);
  CHECK(v6->icmp.code == 1);
  CHECK(v6->icmp.description() == "communication administratively prohibited");
  CHECK(v6->icmp.quoted.dport == 9);
  CHECK(v6->icmp.quoted.dst.to_string() == "::1");
}

TEST_CASE("the decoder survives every truncation of real packets") {
  std::vector<std::vector<uint8_t>> all;
  for (const char* f : {"handshake_close_v4.hex", "handshake_close_v6.hex", "icmp_errors.hex"})
    for (auto& p : load_packets(f)) all.push_back(p);
  for (const auto& p : all) {
    for (size_t n = 0; n <= p.size(); ++n) {
      // A fresh heap copy of exactly n bytes, so ASan sees any read past the end.
      std::vector<uint8_t> cut(p.begin(), p.begin() + long(n));
      const auto d = decode_packet(cut.data(), cut.size());
      if (d && d->kind == DecodedPacket::Kind::tcp) CHECK(d->tcp.header_length >= 20);
    }
  }
}

TEST_CASE("the decoder survives oversized, lying and random input") {
  auto packets = load_packets("handshake_close_v4.hex");
  auto big = packets[0];
  big.resize(big.size() + 3000, 0xab);  // bytes after the packet's own end
  auto d = decode_packet(big.data(), big.size());
  REQUIRE(d);
  CHECK(d->tcp.payload_length == 0);  // the IP length rules, not the buffer

  auto liar = packets[3];
  liar[2] = 0xff;  // total length far beyond the buffer
  liar[3] = 0xff;
  d = decode_packet(liar.data(), liar.size());
  REQUIRE(d);  // decoded from what is there, no read beyond

  auto bad_offset = packets[0];
  bad_offset[32] = 0xf0;  // data offset 60 bytes, beyond the segment the IP length claims
  d = decode_packet(bad_offset.data(), bad_offset.size());
  REQUIRE(d);
  CHECK(d->kind != DecodedPacket::Kind::tcp);  // the kernel drops it: no segment (found read as "open")

  auto zero_length_option = packets[0];
  zero_length_option[40] = 2;  // MSS kind
  zero_length_option[41] = 0;  // with length 0: would loop forever if trusted
  d = decode_packet(zero_length_option.data(), zero_length_option.size());
  REQUIRE(d);
  CHECK(d->tcp.options.malformed());

  CHECK_FALSE(decode_packet(nullptr, 0));
  std::mt19937 rng(12345);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> bytes(rng() % 120);
    for (auto& b : bytes) b = uint8_t(rng());
    if (!bytes.empty() && i % 2) bytes[0] = uint8_t((i % 4 == 1 ? 0x45 : 0x60) | (bytes[0] & 0));
    (void)decode_packet(bytes.data(), bytes.size());
  }
  // Random mutations of real packets keep their shape often enough to reach deep code.
  for (int i = 0; i < 20000; ++i) {
    auto p = packets[size_t(rng()) % packets.size()];
    for (int k = 0; k < 3; ++k) p[rng() % p.size()] = uint8_t(rng());
    p.resize(rng() % (p.size() + 1));
    (void)decode_packet(p.data(), p.size());
  }
  SUCCEED("no crash, no read past the input");
}

TEST_CASE("flags are spelled and parsed every usual way") {
  CHECK(flags_compact(tcp_flag::syn | tcp_flag::ack) == "S.");
  CHECK(flags_compact(0) == "none");
  CHECK(flags_compact(tcp_flag::fin | tcp_flag::psh | tcp_flag::urg) == "FPU");
  CHECK(flags_names(tcp_flag::syn | tcp_flag::ack) == "SYN+ACK");
  CHECK(flags_names(0) == "NULL");
  CHECK(parse_flags("syn,ack").value() == (tcp_flag::syn | tcp_flag::ack));
  CHECK(parse_flags("SYN+ACK").value() == (tcp_flag::syn | tcp_flag::ack));
  CHECK(parse_flags("SA").value() == (tcp_flag::syn | tcp_flag::ack));
  CHECK(parse_flags("xmas").value() == (tcp_flag::fin | tcp_flag::psh | tcp_flag::urg));
  CHECK(parse_flags("null").value() == 0);
  CHECK(parse_flags("ece").value() == tcp_flag::ece);
  CHECK(parse_flags("fin|psh|urg").value() == (tcp_flag::fin | tcp_flag::psh | tcp_flag::urg));
  CHECK_FALSE(parse_flags(""));
  CHECK_FALSE(parse_flags("syn,bogus"));
  CHECK_FALSE(parse_flags("SXZ"));
}

TEST_CASE("sequence arithmetic wraps at 2^32") {
  CHECK(seq_lt(0xfffffff0u, 0x10u));
  CHECK(seq_gt(0x10u, 0xfffffff0u));
  CHECK(seq_le(5u, 5u));
  CHECK(seq_ge(5u, 5u));
  CHECK_FALSE(seq_lt(5u, 5u));
}

// Found by fuzz_segment: a packet cut short (a capture's snaplen) reported the length its IP
// header claims, not the bytes there are, against segment.hpp's "capped to what we have".
TEST_CASE("ip_length is capped to the bytes decoded (fuzz crash: truncated IPv4 SYN)") {
  const std::vector<uint8_t> crash = {0x45, 0x00, 0x00, 0x3c, 0x7f, 0x6c, 0x40, 0x00, 0x40, 0x06, 0xa5, 0x85, 0x0a, 0xe4,
                                      0x00, 0x01, 0x0a, 0xe4, 0xb0, 0xdc, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02,
                                      0x08, 0x0a, 0x14, 0x8f, 0xdd, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a};
  const auto p = decode_packet(crash.data(), crash.size());
  REQUIRE(p);
  CHECK(p->ip_length == crash.size());  // the header claims 60
  const auto packets = load_packets("handshake_close_v6.hex");
  const auto cut = decode_packet(packets[0].data(), 50);
  REQUIRE(cut);
  CHECK(cut->ip_length == 50);
}

TEST_CASE("icmp_meaning reads the type and code, the same for every tool", "[segment][icmp]") {
  using tcpkit::IcmpMeaning;
  using tcpkit::icmp_meaning;
  // IPv4 destination unreachable.
  for (uint8_t code : {0, 1, 6, 7, 11, 12}) CHECK(icmp_meaning(false, 3, code) == IcmpMeaning::host_unreachable);
  CHECK(icmp_meaning(false, 3, 3) == IcmpMeaning::port_unreachable);
  for (uint8_t code : {9, 10, 13, 14, 15}) CHECK(icmp_meaning(false, 3, code) == IcmpMeaning::refused);
  for (uint8_t code : {2, 4, 5, 8, 16, 255}) CHECK(icmp_meaning(false, 3, code) == IcmpMeaning::other);
  // "host precedence violation" names a host but refuses by policy (read as unreachable once,
  // when tcpprobe matched the words).
  CHECK(icmp_meaning(false, 3, 14) == IcmpMeaning::refused);
  CHECK(icmp_meaning(false, 11, 0) == IcmpMeaning::other);
  // ICMPv6 destination unreachable (RFC 4443 3.1); type 1 of IPv4 is no unreachable.
  for (uint8_t code : {0, 3}) CHECK(icmp_meaning(true, 1, code) == IcmpMeaning::host_unreachable);
  CHECK(icmp_meaning(true, 1, 4) == IcmpMeaning::port_unreachable);
  for (uint8_t code : {1, 5, 6}) CHECK(icmp_meaning(true, 1, code) == IcmpMeaning::refused);
  CHECK(icmp_meaning(true, 1, 2) == IcmpMeaning::other);
  CHECK(icmp_meaning(true, 2, 0) == IcmpMeaning::other);
  CHECK(icmp_meaning(false, 1, 0) == IcmpMeaning::other);
  // From the probed address itself, "host unreachable" is its own firewall's reject.
  CHECK(icmp_meaning(false, 3, 1, true) == IcmpMeaning::refused);
  CHECK(icmp_meaning(true, 1, 3, true) == IcmpMeaning::refused);
  CHECK(icmp_meaning(false, 3, 3, true) == IcmpMeaning::port_unreachable);
}

TEST_CASE("fragmentation needed and packet too big give the next hop's MTU") {
  const auto packets = load_packets("icmp_errors.hex");
  REQUIRE(packets.size() == 2);
  CHECK_FALSE(decode_packet(packets[0].data(), packets[0].size())->icmp.mtu);  // another error has none
  auto v4 = packets[0];
  const size_t at4 = size_t(v4[0] & 0x0f) * 4;  // the ICMP header, after the IP header
  v4[at4] = 3, v4[at4 + 1] = 4, v4[at4 + 6] = 0x05, v4[at4 + 7] = 0x00;
  const auto d4 = decode_packet(v4.data(), v4.size());
  REQUIRE(d4);
  CHECK(d4->icmp.description() == "fragmentation needed");
  CHECK(d4->icmp.mtu == 1280u);
  v4[at4 + 6] = v4[at4 + 7] = 0;  // a router older than RFC 1191 gives none
  CHECK_FALSE(decode_packet(v4.data(), v4.size())->icmp.mtu);

  auto v6 = packets[1];
  v6[40] = 2, v6[41] = 0, v6[44] = 0, v6[45] = 0, v6[46] = 0x05, v6[47] = 0x00;
  const auto d6 = decode_packet(v6.data(), v6.size());
  REQUIRE(d6);
  REQUIRE(d6->kind == DecodedPacket::Kind::icmp_error);
  CHECK(d6->icmp.mtu == 1280u);
}
