#include "prometheus.hpp"

#include <charconv>
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

PrometheusText::Block& PrometheusText::block(const std::string& name) {
  for (auto& b : blocks_)
    if (b.name == name) return b;
  return blocks_.emplace_back(Block{name, "", ""});
}

void PrometheusText::describe(const std::string& name, const std::string& help, const char* type) {
  Block& b = block(name);
  if (b.head.empty()) b.head = "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

std::string PrometheusText::text() const {
  std::string out;
  for (const auto& b : blocks_) out += b.head + b.samples;
  return out;
}

void PrometheusText::sample(const std::string& name, const Labels& labels, double value) {
  std::string& out = block(name).samples;
  out += name;
  if (!labels.empty()) {
    out += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i) out += ',';
      out += labels[i].first + "=\"" + escape(labels[i].second) + "\"";
    }
    out += '}';
  }
  // Whole numbers in full, others as %.6g would write them.
  char buf[64];
  const auto r = value == std::floor(value) && std::fabs(value) < 1e15
                     ? std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed, 0)
                     : std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general, 6);
  out += ' ';
  out.append(buf, r.ptr);
  out += '\n';
}

}  // namespace tcpstate
