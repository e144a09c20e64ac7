// Kernel receive timestamps of a fresh capture: the kernel turns RX stamping on for the whole
// machine from a worker, after the first socket asks (net_enable_timestamp defers its static
// key). A packet that arrives before that worker ran has no stamp, and recvmsg then reports
// the time of the read as if it were the kernel's. Capture::open must not return before the
// stamps are real. Needs CAP_NET_RAW (the unit tests run as root in ./run and CI); packets go
// to loopback only.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "tcpkit/io/capture.hpp"
#include "tcpkit/io/raw_socket.hpp"

using namespace tcpkit;

TEST_CASE("a fresh capture stamps packets when they arrive, not when they are read") {
  if (::geteuid() != 0) {
    if (std::getenv("CI")) FAIL("needs root (CAP_NET_RAW) and CI is set");
    WARN("skipped: needs root (CAP_NET_RAW)");
    return;
  }
  const int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(udp >= 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(udp, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);  // a port of our own
  socklen_t length = sizeof to;
  REQUIRE(::getsockname(udp, reinterpret_cast<sockaddr*>(&to), &length) == 0);
  const std::string filter = "udp and dst port " + std::to_string(ntohs(to.sin_port));
  // Several rounds, each after a pause long enough for the kernel to turn stamping off again
  // when no other socket on the machine wants it (the race only exists then).
  int worst_round = -1;
  int64_t worst_ns = 0;
  for (int round = 0; round < 8; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto capture = Capture::open(CaptureOptions{"lo", filter, 256, 1 << 16, false});
    REQUIRE(capture);
    const int64_t sent = realtime_ns();
    REQUIRE(::sendto(udp, "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // read late on purpose
    auto packet = capture->next(std::chrono::steady_clock::now() + std::chrono::seconds(1));
    REQUIRE(packet);
    REQUIRE(*packet);
    const int64_t error = (*packet)->time_ns - sent;
    if (error > worst_ns) {
      worst_ns = error;
      worst_round = round;
    }
  }
  ::close(udp);
  INFO("worst stamp " << worst_ns / 1000 << " us after the send, in round " << worst_round);
  CHECK(worst_ns < 5'000'000);  // a read-time stamp would be >= 20 ms late
}
