#pragma once
// --dry-run: every probe of the plan, in the order a real run sends it, written by the sender's
// own ProbeWriter and decoded back, so what is shown is what would be sent. Sends nothing.
#include <cstdint>
#include <functional>
#include <vector>

#include "tcpkit/scan/scan_plan.hpp"
#include "tcpkit/scan/scan_setup.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/segment.hpp"

namespace tcpkit {

struct DryProbe {
  uint64_t n = 0;                // position in the plan's order
  std::vector<uint8_t> packet;   // the bytes the sender would write
  DecodedPacket decoded;         // ... read back: addresses, ports, flags, seq, ack, options
};

// Round 0's probes (a real run's first round). An error only for a config the engine refuses.
Result<void> dry_run(const ScanPlan& plan, const ScanSources& sources, const ScanConfig& config,
                     const std::function<void(const DryProbe&)>& on_probe);

}  // namespace tcpkit
