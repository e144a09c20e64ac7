#include "tcpkit/scan/scan_dry_run.hpp"

#include "tcpkit/scan/probe_writer.hpp"

namespace tcpkit {

Result<void> dry_run(const ScanPlan& plan, const ScanSources& sources, const ScanConfig& config,
                     const std::function<void(const DryProbe&)>& on_probe) {
  if (sources.by_range.size() != plan.targets().ranges().size())
    return fail(ErrorCode::system, "scan sources do not match the targets");
  auto writer = ProbeWriter::make(config, sources);
  if (!writer) return tl::unexpected(writer.error());
  DryProbe probe;
  for (uint64_t k = 0; k < plan.length(); ++k) {
    const PlannedProbe p = plan.probe(k);
    writer->write(probe.packet, plan.targets().range_of(p.host_index), p.address, p.port, config.port_of_round(0));
    auto decoded = decode_packet(probe.packet.data(), probe.packet.size());
    if (!decoded || decoded->kind != DecodedPacket::Kind::tcp)
      return fail(ErrorCode::system, "a probe written for the dry run does not decode as TCP");
    probe.n = k;
    probe.decoded = *decoded;
    on_probe(probe);
  }
  return {};
}

}  // namespace tcpkit
