#include <catch2/catch.hpp>

#include "tcpkit/sockets/socket_record.hpp"

using namespace tcpkit;

namespace {

SocketRecord full_record() {
  SocketRecord s;
  s.state = TcpState::established;
  s.local = *IpAddress::parse("10.0.0.1");
  s.local_port = 22;
  s.remote = *IpAddress::parse("10.9.9.9");
  s.remote_port = 5000;
  s.recv_q = 3;
  s.send_q = 4;
  s.timer = TimerKind::keepalive;
  s.timer_ms = 7000;
  s.uid = 0;
  s.inode = 777;
  s.processes = {{"sshd", 812, 3}, {"sshd", 813, -1}};
  TcpInfoSummary info;
  info.rtt_us = 71;
  info.cwnd = 10;
  info.total_retrans = 2;
  info.mss = 1448;
  s.info = info;
  return s;
}

}  // namespace

TEST_CASE("socket record: one form, as JSON (nested) and as CSV cells (flat)") {
  const SocketRecord s = full_record();
  const Record json = to_record(s);
  const Record csv = to_csv_record(s);
  CHECK(json["type"] == "socket");
  CHECK_FALSE(csv.contains("type"));
  // Every plain field is the same in both.
  for (const char* key : {"state", "family", "local_address", "local_port", "remote_address", "remote_port", "recv_q",
                          "send_q", "timer", "timer_ms", "retransmits", "uid", "inode"}) {
    INFO(key);
    CHECK(json.at(key) == csv.at(key));
  }
  CHECK(json["processes"].size() == 2);
  CHECK(json["processes"][0]["pid"] == 812);
  CHECK(csv["processes"] == "sshd[812]/3,sshd[813]");
  CHECK(json["info"]["mss"] == 1448);
  CHECK(csv["rtt_us"] == 71);
  CHECK(csv["cwnd"] == 10);
  CHECK(csv["total_retrans"] == 2);
  CHECK_FALSE(csv.contains("info"));
  // Every CSV cell has its column.
  const auto& columns = socket_csv_columns();
  for (const auto& [key, value] : csv.items()) {
    INFO(key);
    CHECK(std::find(columns.begin(), columns.end(), key) != columns.end());
  }
}

TEST_CASE("socket record: names from saved text stand where the address and port would be") {
  SocketRecord s = full_record();
  s.processes.clear();
  s.info.reset();
  s.local_host = "web-1";
  s.remote_service = "x11-1";
  for (const Record& r : {to_record(s), to_csv_record(s)}) {
    CHECK(r["local_host"] == "web-1");
    CHECK_FALSE(r.contains("local_address"));
    CHECK(r["remote_service"] == "x11-1");
    CHECK_FALSE(r.contains("remote_port"));
    CHECK_FALSE(r.contains("processes"));
  }
  CHECK(owners_text({}) == "-");
}

TEST_CASE("split_fields: blanks and tabs separate, max_fields caps, and the reusing form clears first") {
  using V = std::vector<std::string_view>;
  CHECK(split_fields("  LISTEN 0\t128   0.0.0.0:22  ") == V{"LISTEN", "0", "128", "0.0.0.0:22"});
  CHECK(split_fields("a b c d", 2) == V{"a", "b"});
  CHECK(split_fields(" \t ").empty());
  V out{"stale", "fields", "from", "a", "longer", "line"};
  split_fields("ESTAB 0 0", out);
  CHECK(out == V{"ESTAB", "0", "0"});
  const auto capacity = out.capacity();
  split_fields("", out);
  CHECK(out.empty());
  CHECK(out.capacity() == capacity);  // the vector is reused, not given back
  split_fields("x y z w", out, 3);
  CHECK(out == V{"x", "y", "z"});
}
