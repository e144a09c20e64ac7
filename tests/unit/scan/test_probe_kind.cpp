// The scan probe kinds as contracts: which flags choose which kind, the template each shapes,
// the replies each lets through, how each reads them, and who answers what (the RST politeness).
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "scan_replies.hpp"
#include "tcpkit/scan/probe_kind.hpp"

using namespace tcpkit;
using tcpkit_test::icmp_reply;
using tcpkit_test::tcp_reply;

namespace {
constexpr uint8_t S = tcp_flag::syn, A = tcp_flag::ack, F = tcp_flag::fin, R = tcp_flag::rst, P = tcp_flag::psh,
                  U = tcp_flag::urg, E = tcp_flag::ece;

// Records what a kind asks the engine to send.
struct Recorder final : ReplyResponder {
  std::vector<uint32_t> resets;
  void send_reset(uint32_t seq) override { resets.push_back(seq); }
};

std::vector<uint32_t> answers(const ProbeKind& kind, const DecodedPacket& reply) {
  Recorder r;
  kind.on_reply(reply, r);
  return r.resets;
}
}  // namespace

TEST_CASE("the flags choose the kind: exact sets first, then the custom readings") {
  CHECK(std::string(probe_kind_for(S).name) == "syn");
  CHECK(std::string(probe_kind_for(A).name) == "ack");
  CHECK(std::string(probe_kind_for(F).name) == "fin");
  CHECK(std::string(probe_kind_for(0).name) == "null");
  CHECK(std::string(probe_kind_for(F | P | U).name) == "xmas");
  // nmap's --scanflags reading: with ACK like -sA, with SYN like -sS, otherwise like -sF.
  CHECK(probe_kind_for(S | A).style == ProbeStyle::ack);
  CHECK(probe_kind_for(S | E).style == ProbeStyle::syn);
  CHECK(probe_kind_for(F | P).style == ProbeStyle::fin_like);
  CHECK(std::string(probe_kind_for(S | E).name) == "custom");
  CHECK(std::string(probe_kind_for(S | E).nmap_type) == "syn");
  CHECK(std::string(probe_kind_for(F | P).nmap_type) == "fin");
  // Every flag set has exactly one first choice, and every kind in the list is reachable.
  std::set<const ProbeKind*> chosen;
  for (int flags = 0; flags < 256; ++flags) chosen.insert(&probe_kind_for(uint8_t(flags)));
  CHECK(chosen.size() == probe_kinds().size());
}

TEST_CASE("each kind shapes its template: its flags, MSS only on SYN-bearing probes") {
  for (int flags = 0; flags < 256; ++flags) {
    SegmentSpec spec;
    spec.options = linux_layout();  // whatever was there is replaced
    probe_kind_for(uint8_t(flags)).shape(spec, uint8_t(flags));
    INFO("flags " << flags);
    CHECK(spec.flags == flags);
    if (flags & S) {
      CHECK(spec.options.mss() == 1460);
      CHECK(spec.options.bytes().size() == 4);
    } else {
      CHECK(spec.options.count() == 0);
    }
  }
}

TEST_CASE("replies are read the way nmap reads them") {
  using St = PortState;
  const ProbeKind &syn = probe_kind_for(S), &ack = probe_kind_for(A), &fin = probe_kind_for(F);
  auto state = [](const ProbeKind& k, const DecodedPacket& p) { return k.classify(p).value().state; };
  CHECK(state(syn, tcp_reply(S | A, 0, 0)) == St::open);
  CHECK(syn.classify(tcp_reply(S | A, 0, 0))->reason == Reason::syn_ack);
  CHECK(syn.classify(tcp_reply(S, 0, 0))->reason == Reason::syn);  // a split handshake
  // A SYN/ACK with no window is a SYN proxy's (netfilter SYNPROXY): open, and marked.
  auto synack = tcp_reply(S | A, 0, 0);
  CHECK(syn.classify(synack)->zero_window);
  synack.tcp.window = 64240;
  CHECK_FALSE(syn.classify(synack)->zero_window);
  CHECK_FALSE(syn.classify(tcp_reply(S, 0, 0))->zero_window);
  CHECK(state(syn, tcp_reply(R | A, 0, 0)) == St::closed);
  CHECK_FALSE(syn.classify(tcp_reply(A, 0, 0)));
  CHECK(state(ack, tcp_reply(R, 0, 0)) == St::unfiltered);
  CHECK(state(fin, tcp_reply(R | A, 0, 0)) == St::closed);
  CHECK_FALSE(fin.classify(tcp_reply(S | A, 0, 0)));
  // Every code, fragmentation needed (4) and net or host unknown (6, 7) too: nmap reads those
  // as no answer, and a host refused with them was called down.
  for (uint8_t code = 0; code <= 15; ++code) {
    const auto v = syn.classify(icmp_reply(false, 3, code, 1));
    REQUIRE(v);
    CHECK(v->state == St::filtered);
    CHECK(v->icmp_code == code);
  }
  CHECK_FALSE(syn.classify(icmp_reply(false, 11, 0, 1)));  // time exceeded
  CHECK(state(fin, icmp_reply(true, 1, 1, 1)) == St::filtered);
  CHECK_FALSE(syn.classify(icmp_reply(true, 3, 0, 1)));

  CHECK(no_reply_state(syn.style) == St::filtered);
  CHECK(no_reply_state(ack.style) == St::filtered);
  CHECK(no_reply_state(fin.style) == St::open_filtered);
  CHECK(positive_state(syn.style) == St::open);
  CHECK(positive_state(ack.style) == St::unfiltered);
  CHECK(positive_state(probe_kind_for(0).style) == St::open_filtered);
  CHECK(std::string(to_string(St::open_filtered)) == "open|filtered");
}

TEST_CASE("each kind's filter lets through only what it can read") {
  for (const ProbeKind* kind : probe_kinds()) {
    INFO(kind->name << " / " << kind->nmap_type);
    CHECK(kind->filter(tcp_reply(R, 0, 0)));
    CHECK(kind->filter(icmp_reply(false, 3, 3, 1)));
    CHECK_FALSE(kind->filter(tcp_reply(A, 0, 0)));
    CHECK_FALSE(kind->filter(tcp_reply(F | A, 0, 0)));
    CHECK(kind->filter(tcp_reply(S | A, 0, 0)) == (kind->style == ProbeStyle::syn));
    // Whatever the filter passes and the kind reads, the filter did not hide it.
    for (int flags = 0; flags < 256; ++flags) {
      const auto reply = tcp_reply(uint8_t(flags), 0, 0);
      if (kind->classify(reply)) CHECK(kind->filter(reply));
    }
  }
}

TEST_CASE("only SYN-reading kinds reset, and only a SYN/ACK, at the ack it carries") {
  for (const ProbeKind* kind : probe_kinds()) {
    INFO(kind->name << " / " << kind->nmap_type);
    const bool polite = kind->style == ProbeStyle::syn;
    CHECK(answers(*kind, tcp_reply(S | A, 5, 0x01020304)) == (polite ? std::vector<uint32_t>{0x01020304} : std::vector<uint32_t>{}));
    CHECK(answers(*kind, tcp_reply(S, 5, 0)).empty());  // a bare SYN: no connection of ours to reset
    CHECK(answers(*kind, tcp_reply(R | A, 0, 7)).empty());
    CHECK(answers(*kind, icmp_reply(false, 3, 3, 1)).empty());
  }
}

TEST_CASE("every kind checks the cookie the same way") {
  for (const ProbeKind* kind : probe_kinds()) {
    const ProbeNumbers n = probe_numbers(kind->selects(S) ? S : kind->selects(A) ? A : F, 0x0000'0007'0000'1000ULL);
    CHECK(kind->validate(n, icmp_reply(false, 3, 3, n.seq)));
    CHECK_FALSE(kind->validate(n, icmp_reply(false, 3, 3, n.seq + 1)));
  }
}
