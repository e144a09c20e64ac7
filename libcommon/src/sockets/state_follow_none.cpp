// tcpstate follow in a build without libbpf, bpftool or clang: it says so, and nothing else
// of the project depends on BPF.
#include "tcpkit/sockets/state_follow.hpp"

namespace tcpkit {

Result<std::unique_ptr<StateFollower>> start_state_follower(uint32_t /*netns_inode*/) {
  return fail(ErrorCode::system,
              "follow is unavailable: this tcpstate was built without libbpf, bpftool and clang "
              "(install libbpf-dev, bpftool and clang and build again)");
}

bool state_follow_built() { return false; }

}  // namespace tcpkit
