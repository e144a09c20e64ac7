#pragma once
// The Prometheus text exposition format, for node_exporter's textfile collector.
#include <string>
#include <utility>
#include <vector>

namespace tcpstate {

class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  // HELP and TYPE lines, once per metric name.
  void describe(const std::string& name, const std::string& help, const char* type = "gauge");
  void sample(const std::string& name, const Labels& labels, double value);
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<std::string> described_;
};

}  // namespace tcpstate
