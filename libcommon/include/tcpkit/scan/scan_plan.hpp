#pragma once
// The (host x port) space of one scan and this machine's shard of it, in random order:
// the k-th probe of the shard is computed, never stored, and a reply maps back to its k.
#include <cstdint>
#include <optional>
#include <vector>

#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/scan/permutation.hpp"
#include "tcpkit/scan/scan_port_set.hpp"
#include "tcpkit/wire/target_set.hpp"

namespace tcpkit {

struct PlannedProbe {
  uint64_t host_index = 0;
  IpAddress address;
  uint16_t port = 0;
};

class ScanPlan {
 public:
  // Most probes one shard may hold (its answered-bitmap is this many bits).
  static constexpr uint64_t kMaxShardProbes = uint64_t(1) << 35;

  // targets must be finalized; ports sorted and unique. Refuses an empty or oversized scan.
  static Result<ScanPlan> make(const TargetSet& targets, std::vector<uint16_t> ports, uint64_t seed, Shard shard);

  uint64_t total() const { return permutation_.size(); }  // hosts x ports, all shards
  uint64_t length() const { return length_; }             // probes in this shard
  uint64_t hosts() const { return targets_->size(); }
  size_t port_count() const { return ports_.size(); }
  const TargetSet& targets() const { return *targets_; }
  const Shard& shard() const { return shard_; }

  // The k-th probe of this shard (k < length()).
  PlannedProbe probe(uint64_t k) const;
  // The k of the probe to (address, port), if this shard sends one.
  std::optional<uint64_t> local_index(const IpAddress& address, uint16_t port) const;

 private:
  ScanPlan(const TargetSet& targets, const std::vector<uint16_t>& ports, uint64_t seed, Shard shard);
  const TargetSet* targets_;
  ScanPortSet ports_;
  Permutation permutation_;
  Shard shard_;
  uint64_t length_ = 0;
};

}  // namespace tcpkit
