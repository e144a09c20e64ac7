#include <catch2/catch.hpp>

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

#include "tcpkit/io/link_layer.hpp"
#include "tcpkit/io/neighbours.hpp"

using namespace tcpkit;

TEST_CASE("neighbour states: asked and never answered, answered, no fresh evidence") {
  CHECK(neighbour_state_of(NUD_INCOMPLETE) == NeighbourState::unresolved);
  CHECK(neighbour_state_of(NUD_FAILED) == NeighbourState::unresolved);
  CHECK(neighbour_state_of(NUD_REACHABLE) == NeighbourState::reachable);
  for (int s : {NUD_STALE, NUD_DELAY, NUD_PROBE}) CHECK(neighbour_state_of(uint16_t(s)) == NeighbourState::stale);
  for (int s : {NUD_PERMANENT, NUD_NOARP, 0}) CHECK(neighbour_state_of(uint16_t(s)) == NeighbourState::other);
}

TEST_CASE("unanswered_next_hop: one wording for the gateway or the host, by family") {
  Route via{*IpAddress::parse("192.0.2.9"), "eth0", 2, IpAddress::parse("192.0.2.1"), false};
  CHECK(unanswered_next_hop(via, *IpAddress::parse("198.51.100.7")) == "the gateway 192.0.2.1 on eth0 never answered ARP");
  Route direct{*IpAddress::parse("2001:db8::9"), "tk0", 3, std::nullopt, false};
  CHECK(unanswered_next_hop(direct, *IpAddress::parse("2001:db8::7")) ==
        "the host on tk0 never answered neighbour discovery");
}

TEST_CASE("state_in_table: an entry that is not stale wins over a stale one of the same address") {
  const IpAddress a = *IpAddress::parse("192.0.2.5");
  const std::vector<Neighbour> table{{a, 2, NeighbourState::stale, std::nullopt},
                                     {a, 3, NeighbourState::reachable, std::nullopt},
                                     {*IpAddress::parse("192.0.2.6"), 2, NeighbourState::stale, std::nullopt}};
  CHECK(state_in_table(table, a) == NeighbourState::reachable);
  CHECK(state_in_table(table, *IpAddress::parse("192.0.2.6")) == NeighbourState::stale);
  CHECK_FALSE(state_in_table(table, *IpAddress::parse("192.0.2.7")));
  // On one interface only its own entries speak (found: interface 3's answer made a host that
  // answered nothing on interface 2 "up (answered ARP)").
  CHECK(state_in_table(table, a, 2) == NeighbourState::stale);
  CHECK(state_in_table(table, a, 3) == NeighbourState::reachable);
  CHECK_FALSE(state_in_table(table, a, 4));
}

TEST_CASE("await_neighbour: an address the table does not hold is answered at once, as none") {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  const auto start = std::chrono::steady_clock::now();
  auto state = await_neighbour(*IpAddress::parse("192.0.2.213"), deadline, -1);  // TEST-NET-1: no entry
  REQUIRE(state);
  CHECK_FALSE(state->has_value());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
}

TEST_CASE("the neighbour table can be read without privilege") {
  auto table = read_neighbours();
  REQUIRE(table);
  for (const auto& n : *table) CHECK(n.interface_index > 0);
}

namespace {
// One RTM_NEWNEIGH message as the kernel sends it: header, ndmsg, then the attributes given
// (type, payload), each padded to 4 bytes.
std::vector<uint8_t> neigh_message(uint8_t family, int ifindex, uint16_t state,
                                   const std::vector<std::pair<uint16_t, std::vector<uint8_t>>>& attributes) {
  std::vector<uint8_t> out(NLMSG_LENGTH(sizeof(ndmsg)));
  ndmsg nd{};
  nd.ndm_family = family;
  nd.ndm_ifindex = ifindex;
  nd.ndm_state = state;
  std::memcpy(out.data() + NLMSG_HDRLEN, &nd, sizeof nd);
  for (const auto& [type, payload] : attributes) {
    rtattr a{};
    a.rta_type = type;
    a.rta_len = uint16_t(RTA_LENGTH(payload.size()));
    const size_t at = out.size();
    out.resize(at + RTA_SPACE(payload.size()));
    std::memcpy(out.data() + at, &a, sizeof a);
    std::memcpy(out.data() + at + RTA_LENGTH(0), payload.data(), payload.size());
  }
  nlmsghdr h{};
  h.nlmsg_len = uint32_t(out.size());
  h.nlmsg_type = RTM_NEWNEIGH;
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}
const std::vector<uint8_t> kMacBytes{0x02, 0x42, 0xac, 0x11, 0x00, 0x02};
}  // namespace

TEST_CASE("a neighbour message gives its address, interface, state and link address") {
  const auto bytes = neigh_message(AF_INET, 7, NUD_REACHABLE, {{NDA_DST, {10, 0, 0, 2}}, {NDA_LLADDR, kMacBytes}});
  const auto n = decode_neighbour(bytes);
  REQUIRE(n);
  CHECK(n->address.to_string() == "10.0.0.2");
  CHECK(n->interface_index == 7);
  CHECK(n->state == NeighbourState::reachable);
  REQUIRE(n->mac);
  CHECK(to_string(*n->mac) == "02:42:ac:11:00:02");

  std::vector<uint8_t> v6(16, 0);
  v6[0] = 0xfd;
  v6[15] = 2;
  const auto m = decode_neighbour(neigh_message(AF_INET6, 3, NUD_INCOMPLETE, {{NDA_DST, v6}}));
  REQUIRE(m);
  CHECK(m->address.to_string() == "fd00::2");
  CHECK(m->state == NeighbourState::unresolved);
  CHECK_FALSE(m->mac);  // asked, never answered: no link address yet
}

TEST_CASE("a neighbour message that lies about its lengths is read no further than its bytes") {
  auto bytes = neigh_message(AF_INET, 7, NUD_REACHABLE, {{NDA_DST, {10, 0, 0, 2}}, {NDA_LLADDR, kMacBytes}});
  // Cut anywhere: the message's own length now claims more than there is, so nothing is read.
  for (size_t cut = 0; cut < bytes.size(); ++cut)
    CHECK_FALSE(decode_neighbour(std::span<const uint8_t>(bytes.data(), cut)));
  // An attribute whose length runs past the message ends the walk: the address before it stays.
  auto long_attribute = bytes;
  const size_t lladdr_at = NLMSG_LENGTH(sizeof(ndmsg)) + RTA_SPACE(4);
  const uint16_t too_long = 200;
  std::memcpy(long_attribute.data() + lladdr_at, &too_long, sizeof too_long);
  const auto n = decode_neighbour(long_attribute);
  REQUIRE(n);
  CHECK_FALSE(n->mac);
  // A link address that is not 6 bytes (not Ethernet) is not taken for one.
  const auto odd = decode_neighbour(neigh_message(AF_INET, 7, NUD_REACHABLE, {{NDA_DST, {10, 0, 0, 2}}, {NDA_LLADDR, {1, 2, 3, 4}}}));
  REQUIRE(odd);
  CHECK_FALSE(odd->mac);
  // No destination: no neighbour; another family: none either.
  CHECK_FALSE(decode_neighbour(neigh_message(AF_INET, 7, NUD_REACHABLE, {{NDA_LLADDR, kMacBytes}})));
  CHECK_FALSE(decode_neighbour(neigh_message(AF_BRIDGE, 7, NUD_REACHABLE, {{NDA_DST, {10, 0, 0, 2}}})));
}
