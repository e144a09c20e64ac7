#include "tcpkit/scan/probe_kind_xmas.hpp"

namespace tcpkit {

namespace {
bool selects(uint8_t flags) { return flags == (tcp_flag::fin | tcp_flag::psh | tcp_flag::urg); }
}  // namespace

constinit const ProbeKind kXmasProbe = fin_reading("xmas", "xmas", selects);

}  // namespace tcpkit
