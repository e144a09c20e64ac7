// Each lookup in a thread of its own, the caller waiting on a condition variable until all are
// back or the budget is spent: getnameinfo blocks for the resolver's whole retry schedule
// (resolv.conf: 5 s times the attempts) when a name server does not answer.
#include "tcpkit/wire/reverse_names.hpp"

#include <netdb.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

namespace tcpkit {

namespace {

struct Lookups {
  std::mutex mutex;
  std::condition_variable done_cv;
  std::vector<std::optional<std::string>> names;
  size_t done = 0;
};

std::optional<std::string> lookup(const IpAddress& address) {
  socklen_t length = 0;
  const sockaddr_storage sa = address.to_sockaddr(0, &length);
  char host[NI_MAXHOST] = {};
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&sa), length, host, sizeof host, nullptr, 0, NI_NAMEREQD) != 0)
    return std::nullopt;
  std::string name(host);
  if (name.empty()) return std::nullopt;
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                    c == '_';
    if (!ok) c = '?';
  }
  return name;
}

}  // namespace

std::vector<std::optional<std::string>> reverse_names(const std::vector<IpAddress>& addresses,
                                                      std::chrono::milliseconds budget) {
  auto state = std::make_shared<Lookups>();
  state->names.resize(addresses.size());
  for (size_t i = 0; i < addresses.size(); ++i) {
    try {
      std::thread([state, i, address = addresses[i]] {
        auto name = lookup(address);
        const std::lock_guard lock(state->mutex);
        state->names[i] = std::move(name);
        ++state->done;
        state->done_cv.notify_one();
      }).detach();
    } catch (const std::system_error&) {  // no thread to be had: that address goes without a name
      const std::lock_guard lock(state->mutex);
      ++state->done;
    }
  }
  std::unique_lock lock(state->mutex);
  state->done_cv.wait_for(lock, budget, [&] { return state->done == addresses.size(); });
  return state->names;
}

}  // namespace tcpkit
