#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

#include "tcpkit/io/local_port.hpp"
#include "tcpkit/io/recv_message.hpp"
#include "tcpkit/io/unique_fd.hpp"

using namespace tcpkit;

namespace {
bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }
}  // namespace

TEST_CASE("unique fd: closes once, moves, releases") {
  int raw = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(raw >= 0);
  {
    UniqueFd a(raw);
    UniqueFd b(std::move(a));
    CHECK_FALSE(a.valid());
    CHECK(b.get() == raw);
    UniqueFd c;
    c = std::move(b);
    CHECK(c.get() == raw);
    CHECK(is_open(raw));
  }
  CHECK_FALSE(is_open(raw));
  raw = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  {
    UniqueFd d(raw);
    CHECK(d.release() == raw);
  }
  CHECK(is_open(raw));
  ::close(raw);
}

TEST_CASE("reserve_port: an ephemeral loopback port held until the holder goes") {
  const auto loopback = *IpAddress::parse("127.0.0.1");
  auto reserved = reserve_port(loopback);
  REQUIRE(reserved);
  CHECK(reserved->port != 0);
  CHECK(local_port(reserved->holder.get()) == reserved->port);
  // Held: another TCP socket cannot bind it.
  UniqueFd other(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  socklen_t length = 0;
  sockaddr_storage address = loopback.to_sockaddr(reserved->port, &length);
  CHECK(::bind(other.get(), reinterpret_cast<sockaddr*>(&address), length) == -1);
  CHECK(errno == EADDRINUSE);

  auto v6 = reserve_port(*IpAddress::parse("::1"));
  if (v6) CHECK(local_port(v6->holder.get()) == v6->port);  // no IPv6 on some CI hosts
  // Not an address of this host: the bind is refused, said in one sentence.
  auto bad = reserve_port(*IpAddress::parse("192.0.2.1"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("192.0.2.1") != std::string::npos);
  // An unbound socket has no port yet; a bad descriptor none at all.
  UniqueFd fresh(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  CHECK(local_port(fresh.get()) == uint16_t(0));
  CHECK_FALSE(local_port(-1));
}

TEST_CASE("recv message: the kernel's receive stamp of a datagram") {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  const int on = 1;
  REQUIRE(::setsockopt(fd.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) == 0);
  socklen_t length = 0;
  sockaddr_storage self = IpAddress::parse("127.0.0.1")->to_sockaddr(0, &length);
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&self), length) == 0);
  self = IpAddress::parse("127.0.0.1")->to_sockaddr(*local_port(fd.get()), &length);
  REQUIRE(::sendto(fd.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&self), length) == 1);
  char byte = 0;
  sockaddr_storage from{};
  RecvMessage<128> message(&byte, 1, &from, sizeof from);
  REQUIRE(::recvmsg(fd.get(), &message.header, 0) == 1);
  CHECK(byte == 'x');
  CHECK(local_port(fd.get()) == ntohs(reinterpret_cast<sockaddr_in*>(&from)->sin_port));
  std::optional<int64_t> stamp;
  for (cmsghdr* c = CMSG_FIRSTHDR(&message.header); c; c = CMSG_NXTHDR(&message.header, c))
    if (auto s = timestampns_of(*c)) stamp = s;
  REQUIRE(stamp);
  CHECK(*stamp > 0);
}
