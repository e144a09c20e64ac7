#include "tcpkit/util/reject_counts.hpp"

#include "tcpkit/util/counts.hpp"

namespace tcpkit {

std::string_view to_string(RejectReason reason) {
  switch (reason) {
    case RejectReason::wrong_ack: return "wrong ack";
    case RejectReason::wrong_seq: return "wrong seq";
    case RejectReason::wrong_quote: return "wrong quote";
    case RejectReason::wrong_address: return "wrong address";
    case RejectReason::bad_checksum: return "bad checksum";
    case RejectReason::unverifiable: return "unverifiable";
  }
  return "?";
}

std::string_view json_key(RejectReason reason) {
  switch (reason) {
    case RejectReason::wrong_ack: return "wrong_ack";
    case RejectReason::wrong_seq: return "wrong_seq";
    case RejectReason::wrong_quote: return "wrong_quote";
    case RejectReason::wrong_address: return "wrong_address";
    case RejectReason::bad_checksum: return "bad_checksum";
    case RejectReason::unverifiable: return "unverifiable";
  }
  return "?";
}

uint64_t RejectCounts::total() const {
  uint64_t sum = 0;
  for (const uint64_t n : by_reason) sum += n;
  return sum;
}

RejectCounts& RejectCounts::operator+=(const RejectCounts& other) {
  for (size_t i = 0; i < kRejectReasonCount; ++i) by_reason[i] += other.by_reason[i];
  return *this;
}

std::string rejected_text(const RejectCounts& counts) {
  if (counts.total() == 0) return "";
  std::string why;
  for (size_t i = 0; i < kRejectReasonCount; ++i) {
    if (counts.by_reason[i] == 0) continue;
    why += (why.empty() ? "" : ", ") + with_commas(counts.by_reason[i]) + " " + std::string(to_string(RejectReason(i)));
  }
  return with_commas(counts.total()) + " rejected (" + why + ")";
}

Record rejected_by_record(const RejectCounts& counts) {
  Record out = Record::object();
  for (size_t i = 0; i < kRejectReasonCount; ++i) out[std::string(json_key(RejectReason(i)))] = counts.by_reason[i];
  return out;
}

}  // namespace tcpkit
