// TCP options as an ordered list: the builders, Linux's SYN layout, a decoder that keeps what
// it does not know (and what is broken), the one formatter, and the diff of two lists.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tcpkit/wire/segment.hpp"
#include "tcpkit/wire/tcp_options.hpp"

using namespace tcpkit;

namespace {
TcpOptions decoded(const std::vector<uint8_t>& bytes) { return TcpOptions::decode(bytes.data(), bytes.size()); }

std::vector<uint8_t> bytes_of(const TcpOptions& o) { return {o.bytes().begin(), o.bytes().end()}; }

std::vector<std::string> diff_text(const TcpOptions& a, const TcpOptions& b) {
  std::vector<std::string> out;
  for (const auto& c : diff_options(a, b)) out.push_back(to_string(c));
  return out;
}
}  // namespace

TEST_CASE("linux_layout is the kernel's SYN option list, byte for byte") {
  // As captured from Linux 6.x: mss 1460, sackOK, TS val 77 ecr 0, nop, wscale 7.
  const std::vector<uint8_t> kernel = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 77, 0, 0, 0, 0, 1, 3, 3, 7};
  const TcpOptions o = linux_layout(1460, 77, 7);
  CHECK(bytes_of(o) == kernel);
  CHECK(o == decoded(kernel));
  CHECK(o.count() == 5);
  CHECK(o.mss() == 1460);
  CHECK(o.sack_permitted());
  CHECK(o.timestamps() == std::make_pair(77u, 0u));
  CHECK(o.window_scale() == 7);
  CHECK(o.to_string() == "mss 1460,sackOK,TS val 77 ecr 0,nop,wscale 7");
  CHECK(o.to_string(OptionText::brief) == "mss 1460,sackOK,TS,wscale 7");
}

TEST_CASE("timestamp_echo is what Linux puts on an established segment") {
  const TcpOptions o = timestamp_echo(0x01020304, 0x0a0b0c0d);
  CHECK(bytes_of(o) == std::vector<uint8_t>{1, 1, 8, 10, 1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d});
  CHECK(o.timestamps() == std::make_pair(0x01020304u, 0x0a0b0c0du));
  CHECK(o.to_string() == "nop,nop,TS val 16909060 ecr 168496141");
  CHECK(o.to_string(OptionText::brief) == "TS");
}

TEST_CASE("the decoder keeps order, NOPs and unknown kinds") {
  // A middlebox's reordering and an experimental option (kind 254, RFC 6994) stay visible.
  const std::vector<uint8_t> bytes = {3, 3, 7, 1, 254, 4, 0xf9, 0x89, 2, 4, 0x05, 0x78, 1, 1, 4, 2};
  const TcpOptions o = decoded(bytes);
  REQUIRE(o.count() == 7);
  CHECK(o.at(0).kind == tcp_option::window_scale);
  CHECK(o.at(1).kind == tcp_option::nop);
  CHECK(o.at(2).kind == 254);
  CHECK(std::vector<uint8_t>(o.at(2).data.begin(), o.at(2).data.end()) == std::vector<uint8_t>{0xf9, 0x89});
  CHECK(o.at(3).kind == tcp_option::mss);
  CHECK_FALSE(o.malformed());
  CHECK(bytes_of(o) == bytes);
  CHECK(o.to_string() == "wscale 7,nop,opt-254 0xf989,mss 1400,nop,nop,sackOK");
}

TEST_CASE("the decoder stops at end-of-list and keeps malformed tails") {
  const TcpOptions eol = decoded({2, 4, 0x05, 0xb4, 0, 9, 9, 9});
  CHECK(eol.count() == 2);  // MSS and EOL; the rest is padding
  CHECK(eol.to_string() == "mss 1460,eol");
  CHECK(eol.to_string(OptionText::brief) == "mss 1460");

  const TcpOptions zero_length = decoded({1, 2, 0, 5, 6});  // MSS with length 0
  CHECK(zero_length.malformed());
  REQUIRE(zero_length.count() == 2);
  CHECK(zero_length.at(1).malformed);
  CHECK(zero_length.at(1).data.size() == 3);  // every byte after its kind
  CHECK_FALSE(zero_length.mss());
  CHECK(zero_length.to_string() == "nop,malformed option 2 0x000506");

  const TcpOptions too_long = decoded({8, 10, 0, 0, 0, 1});  // TS running past the header
  CHECK(too_long.malformed());
  CHECK_FALSE(too_long.timestamps());

  const TcpOptions no_length = decoded({1, 1, 1, 3});  // a kind with no room for its length
  CHECK(no_length.malformed());
  CHECK(no_length.count() == 4);

  // A length its kind does not allow is kept, but not read as the kind's value.
  const TcpOptions odd = decoded({2, 3, 0x05, 1});
  CHECK_FALSE(odd.malformed());
  CHECK_FALSE(odd.mss());
  CHECK(odd.to_string() == "opt-2 bad length 3 0x05,nop");
}

TEST_CASE("a repeated kind reads as Linux reads it: the last one counts") {
  const TcpOptions o = decoded({2, 4, 0x05, 0xb4, 2, 4, 0x02, 0x18});
  CHECK(o.mss() == 536);
}

TEST_CASE("builders stop at 40 bytes and say how many were asked for") {
  TcpOptions o = linux_layout();
  const std::pair<uint32_t, uint32_t> blocks[] = {{1, 2}, {3, 4}, {5, 6}};
  o.add_nop().add_nop().add_sack(blocks);
  CHECK(o.needed_bytes() == 48);
  CHECK(o.bytes().size() == 22);  // the SACK option did not fit and is not half-written
  CHECK(o.count() == 7);
}

TEST_CASE("set_timestamps rewrites the values in place") {
  TcpOptions o = linux_layout(1460, 1);
  CHECK(o.set_timestamps(99, 5));
  CHECK(o.timestamps() == std::make_pair(99u, 5u));
  CHECK(o.count() == 5);
  TcpOptions none;
  none.add_mss(1400);
  CHECK_FALSE(none.set_timestamps(1, 2));
}

TEST_CASE("sack blocks are read from every SACK option") {
  TcpOptions o;
  const std::pair<uint32_t, uint32_t> a[] = {{10, 20}}, b[] = {{30, 40}, {50, 60}};
  o.add_nop().add_nop().add_sack(a).add_sack(b);
  const auto blocks = decoded(bytes_of(o)).sack_blocks();
  CHECK(blocks == std::vector<std::pair<uint32_t, uint32_t>>{{10, 20}, {30, 40}, {50, 60}});
  CHECK(o.to_string() == "nop,nop,sack 1 {10:20},sack 2 {30:40}{50:60}");
  // Relative to the ISN of the side they number, across the wrap (found: a trace with relative
  // seq and ack wrote its SACK blocks absolute).
  TcpOptions w;
  const std::pair<uint32_t, uint32_t> c[] = {{5, 109}};
  w.add_sack(c);
  CHECK(w.to_string(OptionText::brief, 0xFFFFFFF0u) == "sack 1 {21:125}");
}

TEST_CASE("crafted segments carry the list as built, padded with end-of-list") {
  SegmentSpec s;
  s.src = *IpAddress::parse("10.0.0.1");
  s.dst = *IpAddress::parse("10.0.0.2");
  s.options.add_window_scale(2).add_mss(1200);  // 7 bytes, out of Linux's order
  auto bytes = craft_segment(s);
  REQUIRE(bytes);
  CHECK(bytes->size() == 20 + 20 + 8);
  const std::vector<uint8_t> area(bytes->begin() + 40, bytes->end());
  CHECK(area == std::vector<uint8_t>{3, 3, 2, 2, 4, 0x04, 0xb0, 0});
  const auto d = decode_packet(bytes->data(), bytes->size());
  REQUIRE(d);
  CHECK(d->tcp.options.to_string() == "wscale 2,mss 1200,eol");
}

TEST_CASE("the diff shows what a middlebox did to the options") {
  const TcpOptions sent = linux_layout(1460, 77, 7);
  CHECK(diff_options(sent, sent).empty());

  // MSS clamped, SACK-permitted overwritten with NOPs (what some firewalls do).
  const TcpOptions clamped = decoded({2, 4, 0x05, 0x64, 1, 1, 8, 10, 0, 0, 0, 77, 0, 0, 0, 0, 1, 3, 3, 7});
  CHECK(diff_text(sent, clamped) ==
        std::vector<std::string>{"mss 1460 -> mss 1380", "sackOK removed (NOPs in its place)"});
  // Timestamps reset to ten NOPs as well: each removal takes its own NOPs, none left over.
  const TcpOptions reset = decoded({2, 4, 0x05, 0xb4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 7});
  CHECK(diff_text(sent, reset) ==
        std::vector<std::string>{"sackOK removed (NOPs in its place)", "TS val 77 ecr 0 removed (NOPs in its place)"});
  // One NOP more than a removal took is still an added NOP.
  TcpOptions extra = clamped;
  extra.add_nop();
  CHECK(diff_text(sent, extra) ==
        std::vector<std::string>{"mss 1460 -> mss 1380", "sackOK removed (NOPs in its place)", "nop added"});

  // Timestamps and the NOP stripped, window scale moved before the MSS.
  TcpOptions reordered;
  reordered.add_window_scale(7).add_mss(1460).add_sack_permitted();
  const auto changes = diff_options(sent, reordered);
  CHECK(diff_text(sent, reordered) ==
        std::vector<std::string>{"TS val 77 ecr 0 removed", "nop removed", "wscale 7 moved"});
  REQUIRE(changes.size() == 3);
  CHECK(changes[0].what == OptionChange::What::removed);
  CHECK(changes[0].kind == tcp_option::timestamps);
  CHECK(changes[2].what == OptionChange::What::moved);

  // An unknown option added, and a list cut short by a broken length.
  TcpOptions added = sent;
  added.add(254, std::vector<uint8_t>{0xf9, 0x89});
  CHECK(diff_text(sent, added) == std::vector<std::string>{"opt-254 0xf989 added"});
  const TcpOptions broken = decoded({2, 4, 0x05, 0xb4, 4, 0});
  CHECK(diff_text(linux_layout(1460, 77, 7), broken) ==
        std::vector<std::string>{"sackOK -> malformed option 4 0x00", "TS val 77 ecr 0 removed", "nop removed",
                                 "wscale 7 removed"});
}

TEST_CASE("option lists as a user writes them") {
  CHECK(parse_option_list("linux").value() == linux_layout());
  CHECK(parse_option_list("none").value().count() == 0);
  const auto windows = parse_option_list("mss=1380,nop,ws=8,sack,ts");
  REQUIRE(windows);
  CHECK(windows->to_string() == "mss 1380,nop,wscale 8,sackOK,TS val 1 ecr 0");
  CHECK(parse_option_list("mss,sack,ts=77,nop,ws").value() == linux_layout(1460, 77, 7));
  for (const char* bad : {"", "mss=", "mss=65536", "ws=15", "ws=x", "sack=1", "mssx", "ts=4294967296", "bogus", "nop,,sack",
                          "ts,ts,ts,ts,ts"}) {
    INFO(bad);
    const auto r = parse_option_list(bad);
    REQUIRE(!r);
    CHECK(r.error().code == ErrorCode::bad_input);
  }
  CHECK(parse_option_list("ts,ts,ts,ts,ts").error().message == "the options take 50 bytes; a TCP header holds 40");
}
