#include "tcpkit/scan/scan_timing.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "tcpkit/wire/target_set.hpp"

namespace tcpkit {

namespace {
constexpr uint64_t kExact = uint64_t(1) << RttHistogram::kSubBits;  // below this, one bucket per us
}

size_t RttHistogram::bucket_of(uint64_t us) {
  if (us < kExact) return size_t(us);
  const int exponent = std::min(63 - std::countl_zero(us), kMaxExponent);
  if (exponent == kMaxExponent && (us >> kMaxExponent) > 1) return kBuckets - 1;
  const uint64_t sub = (us >> (exponent - kSubBits)) & (kExact - 1);
  return (size_t(exponent - kSubBits + 1) << kSubBits) + size_t(sub);
}

uint64_t RttHistogram::upper_bound_us(size_t bucket) {
  if (bucket < kExact) return bucket + 1;
  const int exponent = int(bucket >> kSubBits) + kSubBits - 1;
  const uint64_t sub = bucket & (kExact - 1);
  return (kExact + sub + 1) << (exponent - kSubBits);
}

void RttHistogram::add(int64_t rtt_ns) {
  if (rtt_ns <= 0) return;
  buckets_[bucket_of(uint64_t(rtt_ns) / 1000)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

int64_t RttHistogram::percentile_ns(double fraction) const {
  // Summed from the buckets, not from count_: a sample added meanwhile must not push the
  // target past what the walk can see.
  uint64_t total = 0;
  std::array<uint32_t, kBuckets> seen{};
  for (size_t i = 0; i < kBuckets; ++i) total += seen[i] = buckets_[i].load(std::memory_order_relaxed);
  if (total == 0) return 0;
  const double wanted = std::clamp(fraction, 0.0, 1.0) * double(total);
  uint64_t below = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    below += seen[i];
    if (seen[i] && double(below) >= wanted) return int64_t(upper_bound_us(i)) * 1000;
  }
  return int64_t(upper_bound_us(kBuckets - 1)) * 1000;
}

const char* to_string(WaitSource source) {
  switch (source) {
    case WaitSource::start: return "start";
    case WaitSource::measured: return "measured";
    case WaitSource::forced: return "forced";
  }
  return "?";
}

WaitChoice wait_from_rtts(const RttHistogram& rtts, const WaitLimits& limits) {
  const int64_t high = rtts.percentile_ns(limits.percentile);
  if (high == 0) return {std::clamp(limits.start_ns, limits.floor_ns, limits.ceiling_ns), WaitSource::start};
  const int64_t wait = limits.rtts * high + std::max<int64_t>(limits.reader_lag_ns, 0) + limits.margin_ns;
  return {std::clamp(wait, limits.floor_ns, limits.ceiling_ns), WaitSource::measured};
}

NetworkKey NetworkKey::of(const IpAddress& address) {
  NetworkKey key;
  key.v6 = address.is_v6();
  const size_t bytes = key.v6 ? 8 : 3;
  for (size_t i = 0; i < bytes; ++i) key.prefix = key.prefix << 8 | address.data()[i];
  return key;
}

std::string NetworkKey::to_string() const {
  if (!v6) return IpAddress::from_v4_host_order(uint32_t(prefix << 8)).to_string() + "/24";
  std::array<uint8_t, 16> bytes{};
  for (size_t i = 0; i < 8; ++i) bytes[i] = uint8_t(prefix >> (56 - 8 * i));
  return IpAddress::from_v6(bytes.data()).to_string() + "/64";
}

namespace {
size_t slot_of(const NetworkKey& key, size_t slots) {  // Fibonacci hashing of the prefix
  return size_t(((key.prefix ^ uint64_t(key.v6)) * 0x9E3779B97F4A7C15ULL) >> 53) % slots;
}
}  // namespace

void SilentNetworks::clear() {
  used_.fill(false);
  count_ = 0;
  overflowed_ = false;
}

void SilentNetworks::add(const NetworkKey& key) {
  if (overflowed_) return;
  for (size_t n = 0, i = slot_of(key, kSlots); n < kSlots; ++n, i = (i + 1) % kSlots) {
    if (used_[i] && keys_[i] == key) return;
    if (used_[i]) continue;
    if (count_ == kMax) {
      overflowed_ = true;
      return;
    }
    keys_[i] = key;
    used_[i] = true;
    ++count_;
    return;
  }
}

bool NetworkRtts::still_silent(const SilentNetworks& probed) const {
  if (probed.overflowed()) return true;
  return probed.any_of([this](const NetworkKey& key) {
    const Slot* slot = find(key);
    return !slot || slot->state.load(std::memory_order_acquire) == 0;
  });
}

NetworkRtts::NetworkRtts(size_t networks)
    : max_networks_(std::clamp<size_t>(networks, 1, kMaxNetworks)),
      slot_count_(2 * max_networks_),
      slots_(std::make_unique<Slot[]>(slot_count_)) {}

size_t networks_in(const TargetSet& targets, size_t cap) {
  size_t n = 0;
  for (const auto& r : targets.ranges()) {
    // A range is of one family, and its networks are consecutive prefixes.
    const uint64_t span = NetworkKey::of(r.last).prefix - NetworkKey::of(r.first).prefix;
    if (span >= cap - n) return cap;
    n += size_t(span) + 1;
  }
  return std::min(n, cap);
}

NetworkRtts::Slot* NetworkRtts::find(const NetworkKey& key) const {
  // Linear probing up to the first empty slot.
  size_t i = slot_of(key, slot_count_);
  for (size_t n = 0; n < slot_count_; ++n, i = (i + 1) % slot_count_) {
    Slot& slot = slots_[i];
    if (slot.state.load(std::memory_order_acquire) == 0 || slot.key == key) return &slot;
  }
  return nullptr;  // never: the table stays at most half full
}

void NetworkRtts::add(const IpAddress& address, int64_t rtt_ns, int round) {
  if (rtt_ns <= 0) return;
  pooled_.add(rtt_ns);
  const NetworkKey key = NetworkKey::of(address);
  Slot* slot = find(key);
  if (!slot) return;
  if (slot->state.load(std::memory_order_acquire) == 0) {
    if (count_.load(std::memory_order_relaxed) >= max_networks_) return;  // pooled only
    slot->key = key;
    slot->rtts = std::make_unique<RttHistogram>();
    slot->answered_round.store(round, std::memory_order_relaxed);
    slot->state.store(1, std::memory_order_release);  // the key and histogram are readable now
    count_.fetch_add(1, std::memory_order_release);
  }
  slot->rtts->add(rtt_ns);
}

bool NetworkRtts::mark_probed(const IpAddress& address, int round) {
  Slot* slot = find(NetworkKey::of(address));
  if (!slot || slot->state.load(std::memory_order_acquire) == 0) return false;
  slot->probed_round.store(round, std::memory_order_relaxed);
  return true;
}

NetworkRtts::Choice NetworkRtts::wait_after(int round, bool unmeasured_probed, const WaitLimits& limits) const {
  Choice best;
  bool any = false;
  if (unmeasured_probed) {
    best.wait = wait_from_rtts(pooled_, limits);
    if (best.wait.source == WaitSource::measured) best.wait.ns = std::max(best.wait.ns, limits.unmeasured_floor_ns);
    any = true;
  }
  for (size_t i = 0; i < slot_count_; ++i) {
    const Slot& slot = slots_[i];
    if (slot.state.load(std::memory_order_acquire) == 0) continue;
    if (slot.probed_round.load(std::memory_order_relaxed) < round &&
        slot.answered_round.load(std::memory_order_relaxed) < round)
      continue;  // nothing of this round is on its way from it
    const WaitChoice w = wait_from_rtts(*slot.rtts, limits);
    if (any && (best.network_set_it ? w.ns <= best.wait.ns : w.ns < best.wait.ns)) continue;
    any = true;
    best.wait = w;
    best.network_set_it = true;
    best.network = slot.key;
    best.network_p99_ns = slot.rtts->percentile_ns(limits.percentile);
  }
  if (!any) best.wait = wait_from_rtts(pooled_, limits);  // the round probed nothing known
  return best;
}

double expected_missed(const std::vector<uint64_t>& found) {
  if (found.size() < 2) return 0;
  uint64_t all = 0, retried = 0;
  for (size_t r = 0; r < found.size(); ++r) (r ? retried : all) += found[r];
  all += retried;
  if (retried == 0) return 0;  // every answer came at the first try: no sign of loss
  const double q = std::min(double(retried) / double(all), kMaxRetryShare);
  size_t last = found.size() - 1;
  int silent = 0;
  while (last > 0 && found[last] == 0) --last, ++silent;
  return double(found[last]) * std::pow(q, silent) / (1 - q);
}

bool another_round(const std::vector<uint64_t>& found, uint64_t unanswered, int cap) {
  const int rounds_done = int(found.size());
  if (unanswered == 0 || rounds_done > cap) return false;  // rounds_done - 1 retries were sent
  if (rounds_done <= 1) return true;                        // the one retry every silent probe gets
  return found.back() > 0 || expected_missed(found) >= kMissTolerance;
}

}  // namespace tcpkit
