#include "tcpkit/scan/probe_kind_fin.hpp"

namespace tcpkit {

namespace {
bool selects(uint8_t flags) { return flags == tcp_flag::fin; }
}  // namespace

constinit const ProbeKind kFinProbe = fin_reading("fin", "fin", selects);

}  // namespace tcpkit
