#include "prometheus.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tcpstate {

namespace {
// Label values escape backslash, double quote and newline.
std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}
}  // namespace

void PrometheusText::describe(const std::string& name, const std::string& help, const char* type) {
  if (std::find(described_.begin(), described_.end(), name) != described_.end()) return;
  described_.push_back(name);
  text_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void PrometheusText::sample(const std::string& name, const Labels& labels, double value) {
  text_ += name;
  if (!labels.empty()) {
    text_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i) text_ += ',';
      text_ += labels[i].first + "=\"" + escape(labels[i].second) + "\"";
    }
    text_ += '}';
  }
  char buf[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15) std::snprintf(buf, sizeof buf, " %.0f\n", value);
  else std::snprintf(buf, sizeof buf, " %.6g\n", value);
  text_ += buf;
}

}  // namespace tcpstate
