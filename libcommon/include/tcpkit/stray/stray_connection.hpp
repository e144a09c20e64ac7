#pragma once
// The live-connection and TIME_WAIT cases. Each case gets a fresh connection, opened by our
// kernel's connect() (so our kernel owns it) and followed by a LiveConnection; the tracker's
// sequence numbers aim the crafted segment, the capture sees the answers. A fresh connection
// per case means no per-socket rate limit (tcp_invalid_ratelimit) can hide an answer.
//
// For the TIME_WAIT cases our kernel has closed its side: it would answer the peer's ACKs with
// RSTs (and assassinate the very TIME_WAIT under test), so they need a kernel-RST guard
// (nft_guard.hpp) for the target, installed by the caller, and a sender whose packets carry
// the guard's mark.
#include "tcpkit/stray/stray_run.hpp"

namespace tcpkit {

Result<StrayRun> run_connection_case(StrayCase id, const StrayTarget& target, RawSender& sender, int cancel_fd = -1);

// Whether a group's cases need the kernel-RST guard.
bool stray_group_needs_guard(StrayGroup group);

}  // namespace tcpkit
