#include "tcpkit/wire/service_names.hpp"

#include <netdb.h>
#include <netinet/in.h>

#include <vector>

namespace tcpkit {

namespace {
// Past this many names the cache starts over: hostile input cannot grow it without bound.
constexpr size_t kMaxCachedNames = 4096;
// Room for one services entry (its names and aliases) in the reentrant lookups; ERANGE past it.
constexpr size_t kLookupBuffer = 4096;
}  // namespace

std::optional<uint16_t> ServiceNames::port(std::string_view name) {
  if (name.empty() || name.size() > kMaxServiceName) return std::nullopt;
  const std::string key(name);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  if (cache_.size() > kMaxCachedNames) cache_.clear();
  std::optional<uint16_t> found;
  servent entry{};
  servent* result = nullptr;
  std::vector<char> buf(kLookupBuffer);
  if (getservbyname_r(key.c_str(), "tcp", &entry, buf.data(), buf.size(), &result) == 0 && result)
    found = ntohs(static_cast<uint16_t>(result->s_port));
  cache_.emplace(key, found);
  return found;
}

const std::string& ServiceNames::name(uint16_t port) {
  if (auto it = names_.find(port); it != names_.end()) return it->second;
  std::string found;
  servent entry{};
  servent* result = nullptr;
  std::vector<char> buf(kLookupBuffer);
  if (getservbyport_r(int(htons(port)), "tcp", &entry, buf.data(), buf.size(), &result) == 0 && result && result->s_name)
    found = result->s_name;
  return names_.emplace(port, std::move(found)).first->second;
}

}  // namespace tcpkit
