#include <catch2/catch.hpp>

#include <linux/types.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

#include "tcpkit/sockets/listen_queue_record.h"
#include "tcpkit/sockets/listen_queues.hpp"

using namespace tcpkit;

namespace {

void put(std::vector<uint8_t>& out, const tcpkit_listen_queue_record& r) {
  const auto* p = reinterpret_cast<const uint8_t*>(&r);
  out.insert(out.end(), p, p + sizeof r);
}

tcpkit_listen_queue_record listener(uint16_t family, std::vector<uint8_t> address, uint16_t port, uint32_t requests) {
  tcpkit_listen_queue_record r{};
  r.kind = TCPKIT_LQ_LISTENER;
  r.family = family;
  r.port = port;
  std::memcpy(r.address, address.data(), address.size());
  r.request_sockets = requests;
  r.accept_queue = 2;
  r.backlog = 128;
  return r;
}

std::vector<uint8_t> end_record() {
  std::vector<uint8_t> out(TCPKIT_LQ_END_BYTES, 0);
  const uint32_t kind = TCPKIT_LQ_END;
  std::memcpy(out.data(), &kind, sizeof kind);
  return out;
}

}  // namespace

TEST_CASE("listener queue records decode to addresses, ports and counts, up to the end record") {
  std::vector<uint8_t> bytes;
  put(bytes, listener(AF_INET, {10, 0, 0, 2}, 443, 7));
  std::vector<uint8_t> v6(16, 0);
  v6[15] = 1;
  put(bytes, listener(AF_INET6, v6, 22, 0));
  const auto end = end_record();
  bytes.insert(bytes.end(), end.begin(), end.end());
  std::vector<ListenQueue> queues;
  auto chunk = decode_listen_queue_records(bytes, queues);
  REQUIRE(chunk);
  CHECK(chunk->ended);
  REQUIRE(queues.size() == 2);
  CHECK(queues[0].address.to_string() == "10.0.0.2");
  CHECK(queues[0].port == 443);
  CHECK(queues[0].request_sockets == 7);
  CHECK(queues[0].accept_queue == 2);
  CHECK(queues[0].backlog == 128);
  CHECK(queues[1].address.to_string() == "::1");
  CHECK(queues[1].port == 22);
}

TEST_CASE("a listener queue record cut short waits for the rest of its bytes") {
  std::vector<uint8_t> bytes;
  put(bytes, listener(AF_INET, {127, 0, 0, 1}, 80, 1));
  put(bytes, listener(AF_INET, {127, 0, 0, 1}, 81, 2));
  std::vector<ListenQueue> queues;
  auto chunk = decode_listen_queue_records({bytes.data(), bytes.size() - 5}, queues);
  REQUIRE(chunk);
  CHECK_FALSE(chunk->ended);
  CHECK(chunk->used == sizeof(tcpkit_listen_queue_record));
  CHECK(queues.size() == 1);
}

TEST_CASE("a listener queue record of unknown kind or family is an error, not a listener") {
  std::vector<uint8_t> bytes;
  auto r = listener(AF_INET, {127, 0, 0, 1}, 80, 1);
  r.kind = 0x12345678;
  put(bytes, r);
  std::vector<ListenQueue> queues;
  CHECK_FALSE(decode_listen_queue_records(bytes, queues));
  bytes.clear();
  put(bytes, listener(AF_UNIX, {1, 2, 3, 4}, 80, 1));
  CHECK_FALSE(decode_listen_queue_records(bytes, queues));
  CHECK(queues.empty());
}

TEST_CASE("the end record is one read's worth, so that it ends the kernel's read") {
  // listen_queues.cpp reads TCPKIT_LQ_END_BYTES at a time: the kernel stops filling a read once
  // it holds that many bytes, which the end record alone reaches.
  CHECK(TCPKIT_LQ_END_BYTES >= sizeof(tcpkit_listen_queue_record));
  CHECK(sizeof(tcpkit_listen_queue_record) == 40);
}
