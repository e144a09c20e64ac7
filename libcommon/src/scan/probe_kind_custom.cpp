#include "tcpkit/scan/probe_kind_custom.hpp"

#include "tcpkit/scan/probe_kind_ack.hpp"
#include "tcpkit/scan/probe_kind_syn.hpp"

namespace tcpkit {

namespace {
bool with_ack(uint8_t flags) { return flags & tcp_flag::ack; }
bool with_syn(uint8_t flags) { return (flags & tcp_flag::syn) && !(flags & tcp_flag::ack); }
bool any(uint8_t) { return true; }
}  // namespace

constinit const ProbeKind kCustomAckProbe = ack_reading("custom", with_ack);
constinit const ProbeKind kCustomSynProbe = syn_reading("custom", with_syn);
constinit const ProbeKind kCustomFinProbe = fin_reading("custom", "fin", any);

}  // namespace tcpkit
