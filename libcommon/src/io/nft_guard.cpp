#include "tcpkit/io/nft_guard.hpp"
#include "tcpkit/io/run_program.hpp"
#include "tcpkit/util/output.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cerrno>
#include <chrono>
#include <cstdio>

namespace tcpkit {

namespace {

constexpr auto kNftTimeout = std::chrono::seconds(10);

// nft with `input` on stdin, bounded in time; stdout and stderr are collected.
Result<ProgramOutput> run_nft(const std::vector<std::string>& args, const std::string& input) {
  const std::string nft = find_program({"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/usr/local/sbin/nft"});
  if (nft.empty()) return fail(ErrorCode::system, "the nft program (nftables) is not installed");
  return run_program(nft, args, input, kNftTimeout);
}

tl::unexpected<Error> nft_failure(const std::string& what, const ProgramOutput& r) {
  std::string text = r.err;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (auto nl = text.find('\n'); nl != std::string::npos) text = text.substr(0, nl);
  if (text.find("Operation not permitted") != std::string::npos)
    return fail(ErrorCode::privilege, what + ": nftables needs CAP_NET_ADMIN (run as root)", EPERM);
  return fail(ErrorCode::system, what + ": nft: " + (text.empty() ? "exit " + std::to_string(r.status) : text));
}

bool pid_alive(int pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

std::string guard_table_name(int pid) { return std::string(kNftGuardPrefix) + std::to_string(pid); }

std::optional<int> guard_table_pid(std::string_view name) {
  if (name.substr(0, kNftGuardPrefix.size()) != kNftGuardPrefix) return std::nullopt;
  const std::string_view digits = name.substr(kNftGuardPrefix.size());
  if (digits.empty() || digits.size() > 9) return std::nullopt;
  int pid = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    pid = pid * 10 + (c - '0');
  }
  if (pid <= 0) return std::nullopt;
  return pid;
}

std::vector<std::string> parse_nft_inet_tables(std::string_view listing) {
  std::vector<std::string> names;
  while (!listing.empty()) {
    const size_t nl = listing.find('\n');
    std::string_view line = listing.substr(0, nl);
    listing = nl == std::string_view::npos ? std::string_view() : listing.substr(nl + 1);
    constexpr std::string_view kHead = "table inet ";
    if (line.substr(0, kHead.size()) != kHead) continue;
    std::string_view name = line.substr(kHead.size());
    while (!name.empty() && (name.back() == ' ' || name.back() == '\r' || name.back() == '{')) name.remove_suffix(1);
    if (!name.empty() && name.find(' ') == std::string_view::npos) names.emplace_back(name);
  }
  return names;
}

std::string guard_ruleset(const std::string& table, const NftGuardSpec& spec) {
  const std::string daddr = (spec.peer.is_v4() ? "ip daddr " : "ip6 daddr ") + spec.peer.to_string();
  char hex[8];
  const auto digits = std::to_chars(hex, hex + sizeof hex, spec.allow_mark, 16).ptr;  // 8 hex digits hold 32 bits
  const std::string mark = "0x" + std::string(size_t(hex + sizeof hex - digits), '0') + std::string(hex, digits);
  // "add + delete" first: a table left by a dead process that had our pid is replaced.
  return "add table inet " + table + "\n" + "delete table inet " + table + "\n" + "table inet " + table +
         " {\n"
         "  chain output {\n"
         "    type filter hook output priority 0; policy accept;\n"
         "    " + daddr + " tcp dport " + std::to_string(spec.peer_port) +
         " tcp flags & rst == rst meta mark != " + mark + " counter drop\n"
         "  }\n"
         "}\n";
}

Result<NftGuard> NftGuard::install(const NftGuardSpec& spec) {
  const std::string table = guard_table_name(int(::getpid()));
  NftGuard guard(table);  // from here on, its destructor removes the table
  auto r = run_nft({"-f", "-"}, guard_ruleset(table, spec));
  // nft refused the batch: nothing was added. Killed, timed out or not started: its batch may
  // have been committed all the same, and the guard goes out of scope trying to remove it.
  if (!r || r->status != 0) {
    if (r && r->status > 0) guard.table_.clear();
    if (!r) return tl::unexpected(r.error());
    return nft_failure("install the kernel-RST guard", *r);
  }
  // The descriptors that removing the table will need are kept from now on (install's own
  // pipes just gave them back): a run that then uses up its open-file limit can still remove it.
  if (!guard.take_reserve()) {
    const int e = errno;
    (void)guard.remove();
    return fail_errno("keep descriptors for removing the nftables guard", e);
  }
  return guard;
}

bool NftGuard::take_reserve() {
  const int base = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (base < 0) return false;
  reserve_.push_back(base);
  while (reserve_.size() < kRunProgramDescriptors) {
    const int fd = ::fcntl(base, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return false;
    reserve_.push_back(fd);
  }
  return true;
}

NftGuard::NftGuard(NftGuard&& other) noexcept : table_(std::move(other.table_)), reserve_(std::move(other.reserve_)) {
  other.table_.clear();
  other.reserve_.clear();
}

NftGuard& NftGuard::operator=(NftGuard&& other) noexcept {
  if (this != &other) {
    (void)remove();
    table_ = std::move(other.table_);
    reserve_ = std::move(other.reserve_);
    other.table_.clear();
    other.reserve_.clear();
  }
  return *this;
}

NftGuard::~NftGuard() {
  (void)remove();
  release_reserve();
}

void NftGuard::release_reserve() {
  for (int fd : reserve_) ::close(fd);
  reserve_.clear();
}

Result<void> NftGuard::remove() {
  release_reserve();  // their slots are run_nft's now
  if (table_.empty()) return {};
  auto r = run_nft({"delete", "table", "inet", table_}, "");
  const std::string table = table_;
  table_.clear();
  if (!r) return tl::unexpected(r.error());
  if (r->status != 0) return nft_failure("remove nftables table " + table, *r);
  return {};
}

Result<std::vector<std::string>> remove_stale_guards() {
  auto listing = run_nft({"list", "tables"}, "");
  if (!listing) return tl::unexpected(listing.error());
  if (listing->status != 0) return nft_failure("list nftables tables", *listing);
  std::vector<std::string> removed;
  for (const auto& name : parse_nft_inet_tables(listing->out)) {
    const auto pid = guard_table_pid(name);
    if (!pid || *pid == int(::getpid()) || pid_alive(*pid)) continue;
    auto r = run_nft({"delete", "table", "inet", name}, "");
    if (!r) return tl::unexpected(r.error());
    if (r->status == 0) removed.push_back(name);
  }
  return removed;
}

}  // namespace tcpkit
