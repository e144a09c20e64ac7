#pragma once
// Loads the packet fixtures: hex lines (one packet each) with '#' comment lines.
#include <fstream>
#include <string>
#include <vector>

inline std::vector<std::vector<uint8_t>> load_packets(const std::string& name) {
  std::ifstream in(std::string(TCPKIT_FIXTURES) + "/segments/" + name);
  std::vector<std::vector<uint8_t>> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<uint8_t> bytes;
    for (size_t i = 0; i + 1 < line.size(); i += 2) bytes.push_back(uint8_t(std::stoul(line.substr(i, 2), nullptr, 16)));
    out.push_back(std::move(bytes));
  }
  return out;
}
