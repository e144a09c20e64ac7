#pragma once
// Moves the calling thread into a named network namespace (as `ip netns exec` would), so that
// sock_diag, /proc/net and /proc/sys/net all describe that namespace.
#include <string>
#include <string_view>

#include "tcpkit/util/error.hpp"

namespace tcpkit {

// A name `ip netns add` accepts: not empty, no '/', not "." or "..", at most 255 bytes.
bool valid_netns_name(std::string_view name);

// setns() into /run/netns/NAME. Needs CAP_SYS_ADMIN (ErrorCode::privilege without it);
// an unknown name is bad_input.
Result<void> enter_netns(const std::string& name);

}  // namespace tcpkit
