#include "tcpkit/probe/probe_result.hpp"

namespace tcpkit {

const char* to_string(ProbeOutcome outcome) {
  switch (outcome) {
    case ProbeOutcome::open: return "open";
    case ProbeOutcome::closed: return "closed";
    case ProbeOutcome::filtered: return "filtered";
    case ProbeOutcome::unreachable: return "unreachable";
  }
  return "unknown";
}

}  // namespace tcpkit
