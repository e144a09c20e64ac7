#include "tcpkit/scan/probe_kind_fin.hpp"

namespace tcpkit {

namespace {
bool selects(uint8_t flags) { return flags == tcp_flag::fin; }
}  // namespace

extern const ProbeKind kFinProbe = {.name = "fin",
                                    .nmap_type = "fin",
                                    .style = ProbeStyle::fin_like,
                                    .selects = selects,
                                    .shape = probe_parts::shape_with_flags,
                                    .filter = probe_parts::rst_or_icmp,
                                    .validate = reply_matches_probe,
                                    .classify = probe_parts::closed_by_reset,
                                    .on_reply = probe_parts::no_answer};

}  // namespace tcpkit
