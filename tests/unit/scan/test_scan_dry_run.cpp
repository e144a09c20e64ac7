// --dry-run shows the sender's bytes: for every probe kind, each probe the dry run reports is
// byte for byte what ProbeWriter::write (the engine's sender) writes for it, and both equal an
// independent craft_segment of what the probe should be.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "tcpkit/scan/probe_writer.hpp"
#include "tcpkit/scan/scan_dry_run.hpp"
#include "tcpkit/scan/scan_seed.hpp"

using namespace tcpkit;

namespace {
// The plan keeps a pointer to its targets: they live on the heap, where moves leave them be.
struct Setup {
  std::unique_ptr<TargetSet> targets;
  ScanPlan plan;
  ScanSources sources;
};

Setup setup(const char* source, const std::vector<const char*>& targets, const std::vector<uint16_t>& ports) {
  auto set = std::make_unique<TargetSet>(TargetOptions{IpAddress::parse(source)->family(), false});
  for (const char* t : targets) REQUIRE(set->add(t));
  REQUIRE(set->finalize());
  auto plan = ScanPlan::make(*set, ports, 42, Shard{});
  REQUIRE(plan);
  ScanSources sources;
  sources.by_range.assign(set->ranges().size(), *IpAddress::parse(source));
  return Setup{std::move(set), std::move(*plan), std::move(sources)};
}

// What a probe must be, crafted whole from its fields (no template).
std::vector<uint8_t> expected_probe(const ScanConfig& c, const IpAddress& src, const IpAddress& dst, uint16_t port) {
  const uint64_t cookie = ScanCookie(c.key).of(src, c.source_port, dst, port);
  SegmentSpec s;
  s.src = src;
  s.dst = dst;
  s.sport = c.source_port;
  s.dport = port;
  s.flags = c.flags;
  s.seq = uint32_t(cookie);
  s.ack = (c.flags & tcp_flag::ack) ? uint32_t(cookie >> 32) : 0;
  s.window = c.window;
  s.ttl = c.ttl;
  s.ip_id = dst.is_v4() ? uint16_t(cookie >> 48) : 0;
  if (c.flags & tcp_flag::syn) s.options.add_mss(1460);
  return craft_segment(s).value();
}
}  // namespace

TEST_CASE("the dry run's bytes are the sender's, for every probe kind, IPv4 and IPv6") {
  using namespace tcp_flag;
  const uint8_t kinds[] = {syn, ack, fin, 0, uint8_t(fin | psh | urg), uint8_t(syn | ece), uint8_t(syn | ack),
                           uint8_t(fin | psh)};
  for (const bool v6 : {false, true}) {
    Setup s = v6 ? setup("2001:db8::1", {"2001:db8:1::7", "2001:db8:2::/126"}, {22, 80, 443})
                 : setup("192.0.2.1", {"198.51.100.2-4", "203.0.113.9"}, {22, 80, 443});
    for (uint8_t flags : kinds) {
      ScanConfig c;
      c.flags = flags;
      c.source_port = default_source_port(7);
      c.key = dry_run_key(7);
      auto writer = ProbeWriter::make(c, s.sources);
      REQUIRE(writer);
      std::vector<DryProbe> shown;
      REQUIRE(dry_run(s.plan, s.sources, c, [&](const DryProbe& p) { shown.push_back(p); }));
      REQUIRE(shown.size() == s.plan.length());
      std::vector<uint8_t> sent;
      for (const DryProbe& p : shown) {
        const PlannedProbe planned = s.plan.probe(p.n);
        INFO("flags " << flags_compact(flags) << " probe " << p.n << " to " << planned.address.to_string() << ":"
                      << planned.port);
        writer->write(sent, s.plan.targets().range_of(planned.host_index), planned.address, planned.port,
                      c.port_of_round(0));
        CHECK(p.packet == sent);
        CHECK(p.packet == expected_probe(c, s.sources.by_range[0], planned.address, planned.port));
        // What the report prints is read back from those bytes.
        CHECK(p.decoded.dst == planned.address);
        CHECK(p.decoded.tcp.dport == planned.port);
        CHECK(p.decoded.tcp.flags == flags);
        CHECK(p.decoded.tcp.sport == c.source_port);
        CHECK(p.decoded.tcp.options.mss() == ((flags & syn) ? std::optional<uint16_t>(1460) : std::nullopt));
      }
    }
  }
}

TEST_CASE("the dry run refuses what the engine refuses") {
  Setup s = setup("192.0.2.1", {"198.51.100.2"}, {80});
  ScanConfig c;
  c.source_port = 65535;
  c.retries = 1;
  CHECK_FALSE(dry_run(s.plan, s.sources, c, [](const DryProbe&) {}));
}

TEST_CASE("a forced source of the other family is refused before any route is asked") {
  TargetSet set(TargetOptions{});
  REQUIRE(set.add("198.51.100.2"));
  REQUIRE(set.finalize());
  const auto r = dry_run_sources(set, IpAddress::parse("2001:db8::1"), "");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::bad_input);
  CHECK(r.error().message.find("different families") != std::string::npos);
  const auto ok = dry_run_sources(set, IpAddress::parse("192.0.2.1"), "");
  REQUIRE(ok);
  CHECK(ok->by_range.size() == 1);
}

TEST_CASE("the seed's derivations: one SplitMix64, the source-port policy, a repeatable dry-run key") {
  // SplitMix64's published first output for seed 0.
  CHECK(splitmix64(0) == 0xe220a8397b1dcdafULL);
  uint64_t state = 0;
  CHECK(splitmix64_next(state) == 0xe220a8397b1dcdafULL);
  CHECK(splitmix64_next(state) == 0x6e789e6aa1b965f4ULL);
  for (uint64_t seed : {0ULL, 1ULL, 0xffffffffffffffffULL, 12345ULL}) {
    const uint16_t port = default_source_port(seed);
    CHECK(port >= 61000);
    CHECK(port <= 64999);  // + 20 retry rounds stays below 65536
    CHECK(dry_run_key(seed).k0 == dry_run_key(seed).k0);
  }
  CHECK(dry_run_key(1).k0 != dry_run_key(2).k0);
  CHECK(dry_run_key(1).k0 != dry_run_key(1).k1);
}
