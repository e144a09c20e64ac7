// The error-queue reader against crafted control messages: whole, cut short, and lying.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <netinet/in.h>

#include <cstring>
#include <vector>

#include "tcpkit/io/error_queue.hpp"

using namespace tcpkit;

namespace {

// A control buffer holding one IP_RECVERR (or IPV6_RECVERR) whose cmsg_len covers the
// sock_extended_err and `tail` bytes of the address after it. The buffer itself is sized to
// exactly what cmsg_len covers, so a read past it is a read past the allocation (ASan).
std::vector<uint8_t> recverr(bool v6, size_t tail, const sockaddr_storage& offender, size_t err_bytes = sizeof(sock_extended_err)) {
  sock_extended_err e{};
  e.ee_origin = v6 ? SO_EE_ORIGIN_ICMP6 : SO_EE_ORIGIN_ICMP;
  e.ee_type = v6 ? 1 : 3;
  e.ee_code = v6 ? 4 : 13;
  std::vector<uint8_t> buffer(CMSG_LEN(err_bytes + tail));
  cmsghdr header{};
  header.cmsg_len = CMSG_LEN(err_bytes + tail);
  header.cmsg_level = v6 ? SOL_IPV6 : SOL_IP;
  header.cmsg_type = v6 ? IPV6_RECVERR : IP_RECVERR;
  std::memcpy(buffer.data(), &header, sizeof header);
  std::memcpy(buffer.data() + CMSG_LEN(0), &e, std::min(err_bytes, sizeof e));
  if (err_bytes == sizeof e) std::memcpy(buffer.data() + CMSG_LEN(sizeof e), &offender, tail);
  return buffer;
}

msghdr message_over(std::vector<uint8_t>& control) {
  msghdr m{};
  m.msg_control = control.data();
  m.msg_controllen = control.size();
  return m;
}

sockaddr_storage v4_offender() {
  sockaddr_storage s{};
  auto* sin = reinterpret_cast<sockaddr_in*>(&s);
  sin->sin_family = AF_INET;
  inet_pton(AF_INET, "192.0.2.1", &sin->sin_addr);
  return s;
}

sockaddr_storage v6_offender() {
  sockaddr_storage s{};
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&s);
  sin6->sin6_family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::1", &sin6->sin6_addr);
  return s;
}

}  // namespace

TEST_CASE("a whole IP_RECVERR gives the ICMP error and the router that sent it") {
  auto c4 = recverr(false, sizeof(sockaddr_in), v4_offender());
  auto m4 = message_over(c4);
  auto e4 = queued_error(m4);
  REQUIRE(e4);
  CHECK(e4->origin == SO_EE_ORIGIN_ICMP);
  CHECK(e4->type == 3);
  CHECK(e4->code == 13);
  REQUIRE(e4->offender);
  CHECK(e4->offender->to_string() == "192.0.2.1");

  auto c6 = recverr(true, sizeof(sockaddr_in6), v6_offender());
  auto m6 = message_over(c6);
  auto e6 = queued_error(m6);
  REQUIRE(e6);
  REQUIRE(e6->offender);
  CHECK(e6->offender->to_string() == "2001:db8::1");
}

TEST_CASE("a cut IP_RECVERR is never read past its cmsg_len") {
  // A sockaddr_in6 offender of which only sockaddr_in's 16 bytes are there: no offender.
  auto cut6 = recverr(true, sizeof(sockaddr_in), v6_offender());
  auto m = message_over(cut6);
  auto e = queued_error(m);
  REQUIRE(e);
  CHECK_FALSE(e->offender);
  // No room for the address family: the error without an offender.
  auto bare = recverr(false, 0, v4_offender());
  m = message_over(bare);
  e = queued_error(m);
  REQUIRE(e);
  CHECK_FALSE(e->offender);
  // Shorter than sock_extended_err: nothing.
  auto short_err = recverr(false, 0, v4_offender(), 8);
  m = message_over(short_err);
  CHECK_FALSE(queued_error(m));
  // A cmsg_len larger than the control buffer: nothing.
  auto lying = recverr(false, sizeof(sockaddr_in), v4_offender());
  cmsghdr header;
  std::memcpy(&header, lying.data(), sizeof header);
  header.cmsg_len += 64;
  std::memcpy(lying.data(), &header, sizeof header);
  m = message_over(lying);
  CHECK_FALSE(queued_error(m));
  // No control buffer at all.
  msghdr empty{};
  CHECK_FALSE(queued_error(empty));
}
