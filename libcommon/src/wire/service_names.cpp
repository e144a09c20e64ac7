#include "tcpkit/wire/service_names.hpp"

#include <netdb.h>
#include <netinet/in.h>

#include <vector>

namespace tcpkit {

std::optional<uint16_t> ServiceNames::port(std::string_view name) {
  if (name.empty() || name.size() > 64) return std::nullopt;
  const std::string key(name);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  if (cache_.size() > 4096) cache_.clear();  // hostile input cannot grow it without bound
  std::optional<uint16_t> found;
  servent entry{};
  servent* result = nullptr;
  std::vector<char> buf(4096);
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
  std::vector<char> buf(4096);
  if (getservbyport_r(int(htons(port)), "tcp", &entry, buf.data(), buf.size(), &result) == 0 && result && result->s_name)
    found = result->s_name;
  return names_.emplace(port, std::move(found)).first->second;
}

}  // namespace tcpkit
