#pragma once
// Helpers for the tcpstate parser tests: read a fixture, collect what a parser produces.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tcpkit/sockets/socket_record.hpp"

namespace tcpstate_test {

inline std::string fixture(const std::string& name) {
  std::ifstream in(std::string(TCPKIT_FIXTURES) + "/tcpstate/" + name, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A sink that keeps every record.
struct Collect {
  std::vector<tcpkit::SocketRecord> sockets;
  tcpkit::SocketSink sink() {
    return [this](tcpkit::SocketRecord& s) {
      sockets.push_back(s);
      return true;
    };
  }
};

// "ESTABLISHED 10.0.0.1:22 10.0.0.2:5000": what every source must agree on.
inline std::string identity(const tcpkit::SocketRecord& s) {
  return std::string(tcpkit::state_name(s.state)) + " " + s.local.to_string_with_port(s.local_port) + " " +
         s.remote.to_string_with_port(s.remote_port);
}

}  // namespace tcpstate_test
