#pragma once
// A scan probe kind as a small contract, zmap style: the engine knows no kind, it asks the one
// chosen by the probe's flags for
//   shape     the fixed bytes of the probe (flags, options) that the template is made from,
//   filter    a cheap look at a packet: may it be a reply to this kind at all?
//   validate  the cookie check: does it answer the probe we sent to that 4-tuple?
//   classify  the port state it proves (open, closed, unfiltered, filtered...), if any,
//   on_reply  what we owe the peer (the SYN kind resets a SYN/ACK's half-open connection).
// Plain function pointers: no virtual call on the hot path, and a kind is a constant table.
//
// A new kind is a new module (probe_kind_<name>.hpp/.cpp defining one ProbeKind) and one line
// in probe_kind.cpp's list; the engine is not edited.
#include <cstdint>
#include <optional>
#include <span>

#include "tcpkit/scan/scan_probe.hpp"
#include "tcpkit/wire/segment.hpp"

namespace tcpkit {

// The engine's side of on_reply: what a kind may send back.
class ReplyResponder {
 public:
  // Our RST for the reply's connection, with this sequence number, from the port the reply
  // came to (the round's port, or the peer keeps its entry).
  virtual void send_reset(uint32_t seq) = 0;

 protected:
  ~ReplyResponder() = default;
};

struct ProbeKind {
  const char* name;       // "syn", "ack", "fin", "null", "xmas", "custom"
  const char* nmap_type;  // nmap's <scaninfo type=...> for the same reading
  ProbeStyle style;       // how replies read: the positive and the no-reply states follow
  bool (*selects)(uint8_t flags);
  void (*shape)(SegmentSpec& spec, uint8_t flags);
  bool (*filter)(const DecodedPacket& reply);
  bool (*validate)(const ProbeNumbers& probe, const DecodedPacket& reply);
  std::optional<Verdict> (*classify)(const DecodedPacket& reply);
  void (*on_reply)(const DecodedPacket& reply, ReplyResponder& responder);
};

// Every kind, most specific first; the last ones take any flags.
std::span<const ProbeKind* const> probe_kinds();
// The first kind that selects these flags (there always is one).
const ProbeKind& probe_kind_for(uint8_t flags);

// Parts the kinds share.
namespace probe_parts {
// The probe's own flags; SYN-bearing probes carry MSS 1460, as nmap and the kernel send.
void shape_with_flags(SegmentSpec& spec, uint8_t flags);
// TCP with RST (or also SYN when with_syn), or an ICMP error.
bool rst_or_icmp(const DecodedPacket& reply);
bool syn_rst_or_icmp(const DecodedPacket& reply);
// ICMP destination unreachable, any code (nmap reads fewer: see probe_kind.cpp): filtered.
std::optional<Verdict> filtered_by_icmp(const DecodedPacket& reply);
// A reset answers a FIN, NULL, Xmas or custom probe: the port is closed.
std::optional<Verdict> closed_by_reset(const DecodedPacket& reply);
void no_answer(const DecodedPacket& reply, ReplyResponder& responder);
}  // namespace probe_parts

// A kind that reads replies like nmap's -sF/-sN/-sX: RST closed, silence open|filtered. Only
// its name and the flags it takes differ. syn_reading and ack_reading (beside their kinds) have
// the same shape on purpose: each is one reading's table, and they differ in every entry.
constexpr ProbeKind fin_reading(const char* name, const char* nmap_type, bool (*selects)(uint8_t)) {
  return ProbeKind{.name = name,
                   .nmap_type = nmap_type,
                   .style = ProbeStyle::fin_like,
                   .selects = selects,
                   .shape = probe_parts::shape_with_flags,
                   .filter = probe_parts::rst_or_icmp,
                   .validate = reply_matches_probe,
                   .classify = probe_parts::closed_by_reset,
                   .on_reply = probe_parts::no_answer};
}

}  // namespace tcpkit
