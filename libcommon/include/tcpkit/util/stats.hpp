#pragma once
// Summary statistics of samples (RTTs): min/avg/max/mdev like ping, and percentiles.
#include <cstddef>
#include <vector>

namespace tcpkit {

struct Summary {
  size_t count = 0;
  double min = 0, avg = 0, max = 0;
  double mdev = 0;   // population standard deviation, as ping's mdev
  double p50 = 0, p90 = 0, p99 = 0;
};

class Samples {
 public:
  void add(double value) { values_.push_back(value); }
  size_t count() const { return values_.size(); }
  bool empty() const { return values_.empty(); }
  Summary summary() const;

 private:
  std::vector<double> values_;
};

// The p-th percentile (0..100) of sorted values, interpolating linearly between closest ranks.
double percentile(const std::vector<double>& sorted, double p);

}  // namespace tcpkit
