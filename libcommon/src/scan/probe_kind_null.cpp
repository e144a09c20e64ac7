#include "tcpkit/scan/probe_kind_null.hpp"

namespace tcpkit {

namespace {
bool selects(uint8_t flags) { return flags == 0; }
}  // namespace

constinit const ProbeKind kNullProbe = fin_reading("null", "null", selects);

}  // namespace tcpkit
