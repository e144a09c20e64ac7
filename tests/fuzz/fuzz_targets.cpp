// Target, address, CIDR, range and port-list parsing on arbitrary text; the first byte picks
// what and how. Host names go to a stub resolver (no DNS traffic). Beyond "no crash": printed
// forms parse back to the same value, a port list is sorted, unique and in 1-65535, and a
// finalised target set maps index -> address -> index.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "tcpkit/wire/endpoint.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/wire/port_list.hpp"
#include "tcpkit/wire/segment.hpp"
#include "tcpkit/wire/target_set.hpp"

using namespace tcpkit;

namespace {

// Names resolve to one documentation address of the asked family (or both), never to DNS.
Result<std::vector<IpAddress>> stub_resolver(const std::string& host, Family family) {
  if (host.size() % 3 == 0) return fail(ErrorCode::bad_input, "cannot resolve '" + host + "'");
  std::vector<IpAddress> out;
  if (family != Family::v6) out.push_back(*IpAddress::parse("192.0.2.7"));
  if (family != Family::v4) out.push_back(*IpAddress::parse("2001:db8::7"));
  return out;
}

void check_port_list(std::string_view text) {
  const auto ports = parse_port_list(text);
  if (!ports) {
    FUZZ_CHECK(!ports.error().message.empty());
    return;
  }
  for (size_t i = 0; i < ports->size(); ++i) {
    FUZZ_CHECK((*ports)[i] != 0);
    if (i) FUZZ_CHECK((*ports)[i - 1] < (*ports)[i]);
  }
  if (ports->empty()) return;
  const auto again = parse_port_list(compress_ports(*ports));
  FUZZ_CHECK(again && *again == *ports);
}

void check_target_set(uint8_t how, std::string_view text) {
  TargetOptions options;
  options.family = how & 1 ? Family::v4 : how & 2 ? Family::v6 : Family::any;
  options.allow_special = how & 4;
  TargetSet set(options, stub_resolver);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view token = text.substr(start, end - start);
    if (!token.empty() && token[0] == '!')
      (void)set.exclude(token.substr(1));
    else
      (void)set.add(token);
    start = end + 1;
  }
  if (!set.finalize()) return;
  FUZZ_CHECK(set.size() <= TargetSet::kMaxAddresses);
  uint64_t total = 0;
  for (const auto& r : set.ranges()) {
    FUZZ_CHECK(r.first.family() == r.last.family() && r.first <= r.last && r.count > 0);
    total += r.count;
  }
  FUZZ_CHECK(total == set.size());
  if (set.empty()) return;
  // A few indices spread over the set, and its ends.
  for (uint64_t i : {uint64_t(0), set.size() / 3, set.size() / 2, set.size() - 1}) {
    const IpAddress a = set.at(i);
    const auto back = set.index_of(a);
    FUZZ_CHECK(back && *back == i);
    FUZZ_CHECK(set.range_of(i) < set.ranges().size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t how = data[0];
  const std::string copy(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string_view text = copy;
  switch (how % 7) {
    case 0: {
      if (auto a = IpAddress::parse(text)) {
        const auto again = IpAddress::parse(a->to_string());
        FUZZ_CHECK(again && *again == *a);
      }
      break;
    }
    case 1: {
      if (auto c = Cidr::parse(text)) {
        FUZZ_CHECK(c->prefix >= 0 && c->prefix <= (c->base.is_v4() ? 32 : 128));
        FUZZ_CHECK(c->contains(c->base));
        const auto again = Cidr::parse(c->to_string());
        FUZZ_CHECK(again && again->base == c->base && again->prefix == c->prefix);
      }
      break;
    }
    case 2: {
      if (auto t = parse_target(text)) {
        FUZZ_CHECK(!t->host.empty());
        FUZZ_CHECK(!t->port || *t->port != 0);
      }
      if (auto p = parse_port(text)) FUZZ_CHECK(*p != 0);
      break;
    }
    case 3:
      check_port_list(text);
      break;
    case 4:
      if (auto f = parse_flags(text)) {
        const auto again = parse_flags(flags_names(*f) == "NULL" ? "null" : flags_names(*f));
        FUZZ_CHECK(again && *again == *f);
      }
      break;
    default:
      check_target_set(uint8_t(how / 7), text);
      break;
  }
  return 0;
}
