#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "tcpkit/sockets/socket_funnel.hpp"

using namespace tcpkit;

namespace {

SocketRecord sock(TcpState st, const char* local, uint16_t lport, std::optional<uint64_t> inode = std::nullopt) {
  SocketRecord s;
  s.state = st;
  s.local = *IpAddress::parse(local);
  s.local_port = lport;
  s.remote = *IpAddress::parse("10.9.9.9");
  s.remote_port = 5000;
  s.inode = inode;
  return s;
}

// A proc root with one process (pid 4242, "nginx") holding socket inode 777 on fd 5.
struct FakeProc {
  std::filesystem::path root;
  FakeProc() {
    root = std::filesystem::temp_directory_path() / ("tcpkit-funnel-" + std::to_string(::getpid()));
    std::filesystem::create_directories(root / "4242" / "fd");
    std::ofstream(root / "4242" / "comm") << "nginx\n";
    std::filesystem::create_symlink("socket:[777]", root / "4242" / "fd" / "5");
  }
  ~FakeProc() { std::filesystem::remove_all(root); }
};

}  // namespace

TEST_CASE("funnel: the filter and the view's states decide what reaches the sink; every record is counted") {
  SocketFilter filter;
  filter.states = StateSet::of(TcpState::established);
  filter.states.add(TcpState::listen);
  filter.local_ports = {PortRange::parse("22").value()};
  std::vector<SocketRecord> got;
  const SocketSink collect = [&](SocketRecord& s) {
    got.push_back(s);
    return true;
  };
  FunnelCounts counts;
  // The view needs ESTABLISHED and TIME_WAIT: LISTEN is the filter's only, TIME_WAIT the view's.
  StateSet view = StateSet::of(TcpState::established);
  view.add(TcpState::time_wait);
  CHECK(wanted_states(filter, view) == StateSet::of(TcpState::established));
  const SocketSink funnel = funnel_sockets(filter, view, nullptr, counts, collect);
  for (auto s : {sock(TcpState::established, "10.0.0.1", 22), sock(TcpState::established, "10.0.0.1", 80),
                 sock(TcpState::listen, "0.0.0.0", 22), sock(TcpState::time_wait, "10.0.0.1", 22)})
    CHECK(funnel(s));
  REQUIRE(got.size() == 1);
  CHECK(got[0].local_port == 22);
  CHECK(got[0].state == TcpState::established);
  CHECK(counts.seen == 4);
  CHECK(counts.undecided == 0);

  // A service name where --sport needs a number: left out and counted as undecided.
  auto named = sock(TcpState::established, "10.0.0.1", 0);
  named.local_service = "ssh-alt";
  CHECK(funnel(named));
  CHECK(got.size() == 1);
  CHECK(counts.undecided == 1);
  CHECK(counts.seen == 5);
}

TEST_CASE("funnel: the sink's false stops the source") {
  FunnelCounts counts;
  const SocketSink stop = [](SocketRecord&) { return false; };
  const SocketSink funnel = funnel_sockets(SocketFilter{}, StateSet::all(), nullptr, counts, stop);
  auto s = sock(TcpState::established, "10.0.0.1", 22);
  CHECK_FALSE(funnel(s));
}

TEST_CASE("funnel: process owners are joined by inode, and sockets nobody was found holding are counted") {
  FakeProc proc;
  const SocketOwners owners = SocketOwners::scan(proc.root.string());
  std::vector<SocketRecord> got;
  FunnelCounts counts;
  const SocketSink collect = [&](SocketRecord& s) {
    got.push_back(s);
    return true;
  };
  size_t asked = 0;
  const SocketSink funnel = funnel_sockets(SocketFilter{}, StateSet::all(), [&] { return ++asked, &owners; }, counts,
                                           collect);
  for (auto s : {sock(TcpState::established, "10.0.0.1", 22, 777), sock(TcpState::established, "10.0.0.1", 23, 778),
                 sock(TcpState::time_wait, "10.0.0.1", 24, 0), sock(TcpState::established, "10.0.0.1", 25)})
    CHECK(funnel(s));
  REQUIRE(got.size() == 4);
  REQUIRE(got[0].processes.size() == 1);
  CHECK(got[0].processes[0].name == "nginx");
  CHECK(got[0].processes[0].pid == 4242);
  CHECK(got[0].processes[0].fd == 5);
  CHECK(got[1].processes.empty());
  CHECK(got[2].processes.empty());
  // Inode 778 has no holder; inode 0 (TIME_WAIT) and no inode (saved text) are nobody's to find.
  CHECK(counts.unowned == 1);
  CHECK(asked == 4);  // once per record passed on
}

TEST_CASE("owners: only a socket:[INODE] link is a socket") {
  FakeProc proc;
  const auto fd = proc.root / "4242" / "fd";
  std::filesystem::create_symlink("pipe:[778]", fd / "6");
  std::filesystem::create_symlink("socket:[779", fd / "7");
  std::filesystem::create_symlink("socket:[]", fd / "8");
  std::filesystem::create_symlink("/run/socket:[780]", fd / "9");
  const SocketOwners owners = SocketOwners::scan(proc.root.string());
  const auto* holders = owners.find(777);
  REQUIRE(holders);
  REQUIRE(holders->size() == 1);
  CHECK((*holders)[0].fd == 5);
  for (const uint64_t inode : {778u, 779u, 780u}) {
    INFO(inode);
    CHECK_FALSE(owners.find(inode));
  }
}

TEST_CASE("funnel: the owners are not asked for before a record passes the filter") {
  SocketFilter filter;
  filter.states = StateSet{};
  filter.states.add(TcpState::listen);
  FunnelCounts counts;
  size_t asked = 0;
  const SocketSink funnel = funnel_sockets(filter, StateSet::all(), [&]() -> const SocketOwners* { return ++asked, nullptr; },
                                           counts, [](SocketRecord&) { return true; });
  auto s = sock(TcpState::established, "10.0.0.1", 22, 777);
  CHECK(funnel(s));
  CHECK(asked == 0);  // a /proc scan would have been wasted (and said a second error at EMFILE)
  auto l = sock(TcpState::listen, "10.0.0.1", 22, 777);
  CHECK(funnel(l));
  CHECK(asked == 1);
}
