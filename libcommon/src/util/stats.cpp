#include "tcpkit/util/stats.hpp"

#include <algorithm>
#include <cmath>

namespace tcpkit {

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  if (sorted.size() == 1) return sorted.front();
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * double(sorted.size() - 1);
  const size_t low = size_t(std::floor(rank));
  const size_t high = std::min(low + 1, sorted.size() - 1);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - double(low));
}

Summary Samples::summary() const {
  Summary s;
  s.count = values_.size();
  if (values_.empty()) return s;
  std::vector<double> sorted = values_;
  std::sort(sorted.begin(), sorted.end());
  s.min = sorted.front();
  s.max = sorted.back();
  // Welford's method: stable for long runs of nearly equal values.
  double mean = 0, m2 = 0;
  size_t n = 0;
  for (double v : values_) {
    ++n;
    const double delta = v - mean;
    mean += delta / double(n);
    m2 += delta * (v - mean);
  }
  s.avg = mean;
  s.mdev = std::sqrt(m2 / double(n));
  s.p50 = percentile(sorted, 50);
  s.p90 = percentile(sorted, 90);
  s.p99 = percentile(sorted, 99);
  return s;
}

}  // namespace tcpkit
