#pragma once
// The Prometheus text exposition format, for node_exporter's textfile collector.
#include <string>
#include <utility>
#include <vector>

namespace tcpstate {

// Each metric is one block, HELP, TYPE and all its samples together, as the text format wants
// (promtool rejects a metric whose samples are split), in the order metrics were first named.
class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  // HELP and TYPE lines, once per metric name.
  void describe(const std::string& name, const std::string& help, const char* type = "gauge");
  void sample(const std::string& name, const Labels& labels, double value);
  std::string text() const;

 private:
  struct Block {
    std::string name, head, samples;
  };
  Block& block(const std::string& name);
  std::vector<Block> blocks_;
};

}  // namespace tcpstate
