#include "tcpkit/scan/probe_writer.hpp"

namespace tcpkit {

namespace {
// The fixed fields of every probe from one source; dst only chooses the family, the ports and
// numbers are patched per probe.
SegmentSpec template_spec(const ScanConfig& config, const ProbeKind& kind, const IpAddress& source) {
  SegmentSpec spec;
  spec.src = source;
  spec.dst = source;
  spec.sport = config.source_port;
  spec.dport = 1;
  spec.window = config.window;
  spec.ttl = config.ttl;
  kind.shape(spec, config.flags);
  return spec;
}
}  // namespace

Result<ProbeWriter> ProbeWriter::make(const ScanConfig& config, const ScanSources& sources) {
  if (auto ok = check_source_ports(config); !ok) return tl::unexpected(ok.error());
  ProbeWriter w;
  w.kind_ = &probe_kind_for(config.flags);
  w.flags_ = config.flags;
  w.cookie_ = ScanCookie(config.key);
  for (const auto& address : sources.by_range) {
    uint32_t index = 0;
    while (index < w.list_.size() && w.list_[index].address != address) ++index;
    if (index == w.list_.size()) {
      SegmentSpec spec = template_spec(config, *w.kind_, address);
      auto probe = PacketTemplate::make(spec);
      if (!probe) return tl::unexpected(probe.error());
      spec.flags = tcp_flag::rst;
      spec.options = TcpOptions{};
      spec.window = 0;
      auto reset = PacketTemplate::make(spec);
      if (!reset) return tl::unexpected(reset.error());
      w.list_.push_back(Source{address, std::move(*probe), std::move(*reset)});
    }
    w.of_range_.push_back(index);
  }
  return w;
}

ProbeNumbers ProbeWriter::write(std::vector<uint8_t>& packet, size_t range, const IpAddress& target, uint16_t port,
                                uint16_t sport) const {
  const Source& src = list_[of_range_[range]];
  const uint64_t c = cookie_.of(src.address, sport, target, port);
  const ProbeNumbers n = numbers_of(c);
  packet.resize(src.probe.size());
  src.probe.write(packet.data(), PacketFields{target, sport, port, n.seq, n.ack, probe_ip_id(c)});
  return n;
}

bool ProbeWriter::write_reset(std::vector<uint8_t>& packet, const IpAddress& local, uint16_t local_port,
                              const IpAddress& target, uint16_t target_port, uint32_t seq, uint64_t cookie) const {
  for (const auto& s : list_) {
    if (s.address != local) continue;
    packet.resize(s.reset.size());
    s.reset.write(packet.data(), PacketFields{target, local_port, target_port, seq, 0, uint16_t(probe_ip_id(cookie) ^ 1)});
    return true;
  }
  return false;
}

}  // namespace tcpkit
