#include "tcpkit/scan/scan_plan.hpp"

#include <algorithm>
#include <string>

namespace tcpkit {

ScanPlan::ScanPlan(const TargetSet& targets, const std::vector<uint16_t>& ports, uint64_t seed, Shard shard)
    : targets_(&targets),
      ports_(ports),  // the list itself is freed when make() returns
      permutation_(targets.size() * ports_.size(), seed),
      shard_(shard),
      length_(shard.length(targets.size() * ports_.size())) {}

Result<ScanPlan> ScanPlan::make(const TargetSet& targets, std::vector<uint16_t> ports, uint64_t seed, Shard shard) {
  if (targets.empty()) return fail(ErrorCode::bad_input, "no targets left to scan");
  if (ports.empty()) return fail(ErrorCode::bad_input, "no ports to scan");
  if (!std::is_sorted(ports.begin(), ports.end()) || std::adjacent_find(ports.begin(), ports.end()) != ports.end())
    return fail(ErrorCode::bad_input, "the port list must be sorted and unique");
  if (shard.count < 1 || shard.index < 1 || shard.index > shard.count) return fail(ErrorCode::bad_input, "invalid shard");
  ScanPlan plan(targets, ports, seed, shard);
  if (plan.length_ > kMaxShardProbes)
    return fail(ErrorCode::bad_input, "the scan has " + std::to_string(plan.total()) +
                                          " probes, more than one machine's limit of 2^35: split it with --shard");
  return plan;
}

PlannedProbe ScanPlan::probe(uint64_t k) const {
  const uint64_t element = permutation_.at(shard_.position(k));
  const uint64_t hosts = targets_->size();
  PlannedProbe p;
  p.host_index = element % hosts;
  p.port = ports_.at(size_t(element / hosts));
  p.address = targets_->at(p.host_index);
  return p;
}

std::optional<uint64_t> ScanPlan::local_index(const IpAddress& address, uint16_t port) const {
  const auto host = targets_->index_of(address);
  if (!host) return std::nullopt;
  const auto index = ports_.index_of(port);
  if (!index) return std::nullopt;
  const uint64_t element = uint64_t(*index) * targets_->size() + *host;
  const uint64_t position = permutation_.position_of(element);
  if (!shard_.owns(position)) return std::nullopt;
  return shard_.local(position);
}

}  // namespace tcpkit
