#include <catch2/catch.hpp>

#include <linux/neighbour.h>

#include "tcpkit/io/neighbours.hpp"

using namespace tcpkit;

TEST_CASE("neighbour states: asked and never answered, answered, no fresh evidence") {
  CHECK(neighbour_state_of(NUD_INCOMPLETE) == NeighbourState::unresolved);
  CHECK(neighbour_state_of(NUD_FAILED) == NeighbourState::unresolved);
  CHECK(neighbour_state_of(NUD_REACHABLE) == NeighbourState::reachable);
  for (int s : {NUD_STALE, NUD_DELAY, NUD_PROBE, NUD_PERMANENT, NUD_NOARP, 0})
    CHECK(neighbour_state_of(uint16_t(s)) == NeighbourState::other);
}

TEST_CASE("the neighbour table can be read without privilege") {
  auto table = read_neighbours();
  REQUIRE(table);
  for (const auto& n : *table) CHECK(n.interface_index > 0);
}
