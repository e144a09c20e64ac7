#include "tcpkit/scan/probe_kind_custom.hpp"

#include "tcpkit/scan/probe_kind_ack.hpp"
#include "tcpkit/scan/probe_kind_syn.hpp"

namespace tcpkit {

namespace {
bool with_ack(uint8_t flags) { return flags & tcp_flag::ack; }
bool with_syn(uint8_t flags) { return (flags & tcp_flag::syn) && !(flags & tcp_flag::ack); }
bool any(uint8_t) { return true; }
}  // namespace

extern const ProbeKind kCustomAckProbe = {.name = "custom",
                                    .nmap_type = "ack",
                                    .style = ProbeStyle::ack,
                                    .selects = with_ack,
                                    .shape = probe_parts::shape_with_flags,
                                    .filter = probe_parts::rst_or_icmp,
                                    .validate = reply_matches_probe,
                                    .classify = classify_ack_reply,
                                    .on_reply = probe_parts::no_answer};
extern const ProbeKind kCustomSynProbe = {.name = "custom",
                                    .nmap_type = "syn",
                                    .style = ProbeStyle::syn,
                                    .selects = with_syn,
                                    .shape = probe_parts::shape_with_flags,
                                    .filter = probe_parts::syn_rst_or_icmp,
                                    .validate = reply_matches_probe,
                                    .classify = classify_syn_reply,
                                    .on_reply = reset_syn_ack};
extern const ProbeKind kCustomFinProbe = {.name = "custom",
                                    .nmap_type = "fin",
                                    .style = ProbeStyle::fin_like,
                                    .selects = any,
                                    .shape = probe_parts::shape_with_flags,
                                    .filter = probe_parts::rst_or_icmp,
                                    .validate = reply_matches_probe,
                                    .classify = probe_parts::closed_by_reset,
                                    .on_reply = probe_parts::no_answer};

}  // namespace tcpkit
