#include <catch2/catch.hpp>

#include "tcpkit/wire/service_names.hpp"

using namespace tcpkit;

TEST_CASE("service names: port to name and back through /etc/services") {
  // /etc/services is part of Debian's base system (netbase).
  ServiceNames names;
  CHECK(names.name(22) == "ssh");
  CHECK(names.name(443) == "https");
  CHECK(names.name(61999).empty());  // nothing registered there
  CHECK(names.port("ssh") == 22);
  CHECK(names.port(names.name(5432)) == 5432);
}
