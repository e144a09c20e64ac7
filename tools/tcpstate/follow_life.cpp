// tcpstate follow --life: each finished connection on one line, its whole path through the
// states with the time spent in each, what it carried and how it ended.
#include <cstdio>
#include <cstring>

#include "follow_outputs.hpp"
#include "tcpkit/sockets/socket_record.hpp"
#include "tcpkit/util/output.hpp"

namespace tcpstate {

using namespace tcpkit;

namespace {

constexpr uint64_t kNsPerUs = 1000;

// "ECONNRESET"; "" for none.
std::string error_name(int error) {
  if (error == 0) return "";
  const char* name = strerrorname_np(error);
  return name ? name : "errno " + std::to_string(error);
}

void print_text(const ConnectionLife& l, const WallClock& clock) {
  std::string line = clock.text(l.last_ns) + "  " + endpoints_text(l.local, l.local_port, l.remote, l.remote_port) + "  ";
  if (l.began_before) line += "(before the start) ";
  for (size_t i = 0; i < l.path.size(); ++i) {
    if (i) line += " -> ";
    line += state_name(l.path[i].state);
    if (i + 1 < l.path.size()) line += " " + (l.path[i].ns ? format_duration_ms(double(*l.path[i].ns) / 1e6) : std::string("?"));
  }
  if (l.time_wait_inferred) line += " (inferred)";
  line += "  acked " + std::to_string(l.bytes_acked) + " B, received " + std::to_string(l.bytes_received) + " B  " +
          std::string(life_end_name(l.end));
  if (l.error) line += " (" + error_name(l.error) + ")";
  if (l.gap) line += "  changes missed";
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
}

void print_json(const ConnectionLife& l, const WallClock& clock) {
  std::string line = "{\"type\":\"connection\",\"start_us\":";
  append_number(line, clock.unix_ns(l.first_ns) / int64_t(kNsPerUs));
  line += ",\"end_us\":";
  append_number(line, clock.unix_ns(l.last_ns) / int64_t(kNsPerUs));
  append_endpoints_json(line, l.local, l.local_port, l.remote, l.remote_port);
  line += ",\"path\":[";
  for (size_t i = 0; i < l.path.size(); ++i) {
    line += i ? ",{\"state\":" : "{\"state\":";
    append_json_string(line, state_name(l.path[i].state));
    if (i + 1 < l.path.size() && l.path[i].ns) {
      line += ",\"us\":";
      append_number(line, *l.path[i].ns / kNsPerUs);
    }
    line += '}';
  }
  line += "],\"ended\":";
  append_json_string(line, life_end_key(l.end));
  if (l.error) {
    line += ",\"error\":";
    append_json_string(line, error_name(l.error));
  }
  line += ",\"bytes_acked\":";
  append_number(line, l.bytes_acked);
  line += ",\"bytes_received\":";
  append_number(line, l.bytes_received);
  line += l.began_before ? ",\"began_before_start\":true" : ",\"began_before_start\":false";
  line += l.gap ? ",\"changes_missed\":true" : ",\"changes_missed\":false";
  line += l.time_wait_inferred ? ",\"time_wait_inferred\":true" : ",\"time_wait_inferred\":false";
  line += ",\"socket\":";
  append_number(line, l.socket);
  line += "}\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
}

}  // namespace

void print_life(const ConnectionLife& life, const WallClock& clock, bool json) {
  if (json) print_json(life, clock);
  else print_text(life, clock);
}

}  // namespace tcpstate
