#include <catch2/catch.hpp>

#include "tcpkit/sockets/tcp_state.hpp"

using namespace tcpkit;

TEST_CASE("every spelling of every state parses to the same state") {
  struct Case {
    const char* text;
    TcpState state;
  };
  const Case cases[] = {
      {"ESTAB", TcpState::established},       {"ESTABLISHED", TcpState::established},
      {"established", TcpState::established}, {"SYN-SENT", TcpState::syn_sent},
      {"SYN_SENT", TcpState::syn_sent},       {"SYN-RECV", TcpState::syn_recv},
      {"SYN_RECV", TcpState::syn_recv},       {"syn-recv", TcpState::syn_recv},
      {"FIN-WAIT-1", TcpState::fin_wait1},    {"FIN_WAIT1", TcpState::fin_wait1},
      {"FIN-WAIT-2", TcpState::fin_wait2},    {"FIN_WAIT2", TcpState::fin_wait2},
      {"TIME-WAIT", TcpState::time_wait},     {"TIME_WAIT", TcpState::time_wait},
      {"timewait", TcpState::time_wait},      {"time-wait", TcpState::time_wait},
      {"UNCONN", TcpState::close},            {"CLOSE", TcpState::close},
      {"CLOSED", TcpState::close},            {"CLOSE-WAIT", TcpState::close_wait},
      {"CLOSE_WAIT", TcpState::close_wait},   {"LAST-ACK", TcpState::last_ack},
      {"LAST_ACK", TcpState::last_ack},       {"LISTEN", TcpState::listen},
      {"CLOSING", TcpState::closing},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    REQUIRE(parse_tcp_state(c.text));
    CHECK(*parse_tcp_state(c.text) == c.state);
  }
  for (const char* bad : {"", "ESTA", "SYN", "1", "0A", "UNKNOWN", "TIME WAITING", "LISTENX"}) {
    INFO(bad);
    CHECK_FALSE(parse_tcp_state(bad));
  }
}

TEST_CASE("names round-trip and kernel numbers match include/net/tcp_states.h") {
  for (TcpState s : kAllTcpStates) {
    CHECK(parse_tcp_state(state_name(s)) == s);
    CHECK(parse_tcp_state(state_ss_name(s)) == s);
    CHECK(parse_tcp_state(state_key(s)) == s);
    CHECK(state_from_kernel(kernel_number(s)) == s);
  }
  CHECK(kernel_number(TcpState::established) == 1);
  CHECK(kernel_number(TcpState::time_wait) == 6);
  CHECK(kernel_number(TcpState::listen) == 10);
  CHECK(kernel_number(TcpState::closing) == 11);
  CHECK(state_from_kernel(12) == TcpState::syn_recv);  // TCP_NEW_SYN_RECV
  CHECK_FALSE(state_from_kernel(0));
  CHECK_FALSE(state_from_kernel(13));
  CHECK(state_ss_name(TcpState::close) == "UNCONN");
  CHECK(state_name(TcpState::fin_wait1) == "FIN_WAIT1");
}

TEST_CASE("state groups are ss's groups") {
  const auto connected = parse_state_or_group("connected").value();
  CHECK_FALSE(connected.contains(TcpState::listen));
  CHECK_FALSE(connected.contains(TcpState::close));
  CHECK(connected.contains(TcpState::syn_sent));
  CHECK(connected.contains(TcpState::time_wait));
  const auto sync = parse_state_or_group("synchronized").value();
  CHECK_FALSE(sync.contains(TcpState::syn_sent));
  CHECK(sync.contains(TcpState::established));
  const auto bucket = parse_state_or_group("bucket").value();
  CHECK(bucket.contains(TcpState::syn_recv));
  CHECK(bucket.contains(TcpState::time_wait));
  CHECK_FALSE(bucket.contains(TcpState::established));
  const auto big = parse_state_or_group("big").value();
  CHECK(big.contains(TcpState::listen));
  CHECK_FALSE(big.contains(TcpState::time_wait));
  CHECK(parse_state_or_group("all").value().is_all());
  CHECK(parse_state_or_group("time-wait").value() == StateSet::of(TcpState::time_wait));
  CHECK_FALSE(parse_state_or_group("everything"));
}

TEST_CASE("the kernel mask asks for request sockets with SYN_RECV") {
  CHECK(StateSet::of(TcpState::syn_recv).kernel_mask() == ((1u << 3) | (1u << 12)));
  CHECK(StateSet::of(TcpState::time_wait).kernel_mask() == (1u << 6));
  CHECK(StateSet::all().kernel_mask() == 0x1FFEu);
}

TEST_CASE("every state has a full explanation") {
  for (TcpState s : kAllTcpStates) {
    const auto& e = explain_state(s);
    CHECK(e.summary.size() > 10);
    CHECK(e.enter.size() > 10);
    CHECK(e.leave.size() > 10);
    CHECK(e.many.size() > 10);
  }
  CHECK(explain_state(TcpState::time_wait).leave.find("tcp_fin_timeout does not") != std::string_view::npos);
}
