#pragma once
// Replies that are not answers: segments and ICMP errors that reached one of our ports but
// fail a check (a forged or corrupted reply, or another connection's), counted by why. Every
// tool that reads replies reports them the same way: a total, each reason's count, and the
// text "3 rejected (2 wrong ack, 1 wrong address)".
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tcpkit/util/output.hpp"

namespace tcpkit {

enum class RejectReason {
  wrong_ack,      // its ack is not ours + 1 (a SYN/ACK or RST|ACK), or acks what we never sent
  wrong_seq,      // its seq is outside the peer's sequence space (an RST or segment on a connection)
  wrong_quote,    // an ICMP error quoting a segment we did not send (another port or seq)
  wrong_address,  // from an address other than the target, to our port
  bad_checksum,   // its TCP or ICMP checksum is wrong
  unverifiable,   // its checksum cannot be checked: a fragment, or shorter than its IP header says
};
inline constexpr size_t kRejectReasonCount = 6;

std::string_view to_string(RejectReason reason);  // "wrong ack"
std::string_view json_key(RejectReason reason);   // "wrong_ack"

struct RejectCounts {
  std::array<uint64_t, kRejectReasonCount> by_reason{};

  void add(RejectReason reason, uint64_t n = 1) { by_reason[size_t(reason)] += n; }
  uint64_t operator[](RejectReason reason) const { return by_reason[size_t(reason)]; }
  uint64_t total() const;
  RejectCounts& operator+=(const RejectCounts& other);
};

// "3 rejected (2 wrong ack, 1 wrong address)", the reasons with a count only; "" for none.
std::string rejected_text(const RejectCounts& counts);
// {"wrong_ack": 2, "wrong_seq": 0, ...}: every reason, zeros included, for JSON summaries.
Record rejected_by_record(const RejectCounts& counts);

}  // namespace tcpkit
