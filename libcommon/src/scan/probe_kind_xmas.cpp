#include "tcpkit/scan/probe_kind_xmas.hpp"

namespace tcpkit {

namespace {
bool selects(uint8_t flags) { return flags == (tcp_flag::fin | tcp_flag::psh | tcp_flag::urg); }
}  // namespace

extern const ProbeKind kXmasProbe = {.name = "xmas",
                                    .nmap_type = "xmas",
                                    .style = ProbeStyle::fin_like,
                                    .selects = selects,
                                    .shape = probe_parts::shape_with_flags,
                                    .filter = probe_parts::rst_or_icmp,
                                    .validate = reply_matches_probe,
                                    .classify = probe_parts::closed_by_reset,
                                    .on_reply = probe_parts::no_answer};

}  // namespace tcpkit
