#pragma once
// A kernel-RST guard: an nftables table of our own whose one rule drops the RSTs our kernel
// would send to a peer (it owns no socket for segments we craft, or for a connection it has
// closed), while letting through the RSTs we craft ourselves (they carry a packet mark).
// RAII: the table goes when the guard does. Tables are named with a fixed prefix and the pid,
// so a later run can remove the tables of a run that died without cleaning up.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

inline constexpr std::string_view kNftGuardPrefix = "tcpkit_stray_";
// The mark tcpstray's raw socket sets (SO_MARK): "tcst".
inline constexpr uint32_t kStrayPacketMark = 0x74637374;

struct NftGuardSpec {
  IpAddress peer;
  uint16_t peer_port = 0;
  uint32_t allow_mark = kStrayPacketMark;  // RSTs with this mark pass
};

class NftGuard {
 public:
  // Needs CAP_NET_ADMIN and the nft program. The table is "<prefix><pid>".
  static Result<NftGuard> install(const NftGuardSpec& spec);

  NftGuard(NftGuard&& other) noexcept;
  NftGuard& operator=(NftGuard&& other) noexcept;
  NftGuard(const NftGuard&) = delete;
  NftGuard& operator=(const NftGuard&) = delete;
  ~NftGuard();  // removes the table (errors are ignored: nothing to report them to)

  // Removes the table now; safe to call twice.
  Result<void> remove();
  const std::string& table() const { return table_; }

 private:
  explicit NftGuard(std::string table) : table_(std::move(table)) {}
  bool take_reserve();
  void release_reserve();
  std::string table_;         // empty once removed or moved from
  std::vector<int> reserve_;  // descriptors held for remove()'s pipes: it must work at any ulimit -n
};

// Removes guard tables whose pid is no longer alive; returns the names removed. Without nft
// or the privilege this is an error, and nothing is removed.
Result<std::vector<std::string>> remove_stale_guards();

// The pure parts, for tests.
std::string guard_table_name(int pid);
std::optional<int> guard_table_pid(std::string_view table_name);  // nullopt: not one of ours
// Table names of family inet in `nft list tables` output ("table inet NAME" lines).
std::vector<std::string> parse_nft_inet_tables(std::string_view listing);
std::string guard_ruleset(const std::string& table, const NftGuardSpec& spec);

}  // namespace tcpkit
