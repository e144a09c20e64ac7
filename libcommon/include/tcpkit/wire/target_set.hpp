#pragma once
// The set of addresses a scan covers: literals, CIDR blocks, ranges ("10.0.0.1-50",
// "10.0.0.1-10.0.3.7", "2001:db8::1-2001:db8::ff"), host names, minus exclusions. Stored as
// sorted disjoint ranges with running counts, so index -> address and address -> index are
// binary searches and no address list is ever materialised.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

struct TargetOptions {
  Family family = Family::any;  // -4 / -6: names resolve in it, literals of the other are refused
  bool allow_special = false;   // scan broadcast, multicast and network addresses too
};

// Looks a host name up; the default is resolve_host() from endpoint.hpp.
using HostResolver = std::function<Result<std::vector<IpAddress>>(const std::string& host, Family family)>;

struct AddressRange {
  IpAddress first, last;  // inclusive, one family
  uint64_t count = 0;
};

class TargetSet {
 public:
  // Most addresses one scan may cover (a whole IPv4 Internet, or an IPv6 /96).
  static constexpr uint64_t kMaxAddresses = uint64_t(1) << 32;

  explicit TargetSet(TargetOptions options = {}, HostResolver resolver = {});

  // One target as written. A CIDR block of more than two addresses loses its network address
  // (and, for IPv4, its broadcast address) unless allow_special is set; see skipped_special().
  Result<void> add(std::string_view token);
  // Addresses to leave out (the same syntax, names included; special addresses allowed).
  Result<void> exclude(std::string_view token);
  // Merges, subtracts the exclusions and indexes. Refuses multicast, limited-broadcast and
  // "this network" addresses left in the set (unless allow_special), and sets too large to scan.
  Result<void> finalize();

  uint64_t size() const { return total_; }
  bool empty() const { return total_ == 0; }
  IpAddress at(uint64_t index) const;                         // index < size()
  std::optional<uint64_t> index_of(const IpAddress& address) const;
  const std::vector<AddressRange>& ranges() const { return ranges_; }
  // Which of ranges() holds the address at index (index < size()).
  size_t range_of(uint64_t index) const;
  bool has_family(Family family) const;
  // Network and broadcast addresses left out of CIDR blocks.
  uint64_t skipped_special() const { return skipped_special_; }

  // Implementation detail shared with target_set.cpp: an inclusive range of 128-bit numbers.
  struct Span;

 private:
  Result<std::vector<Span>> parse(std::string_view token, bool for_exclusion);
  // The forms parse() tells apart; text is the token as written, for the messages.
  Result<Span> parse_cidr(const std::string& text, std::string_view token, bool for_exclusion);
  Result<Span> parse_range(const std::string& text, const IpAddress& first, std::string_view right);
  Result<Span> resolve_name(const std::string& text, std::string_view token);

  TargetOptions options_;
  HostResolver resolver_;
  std::vector<Span> include_, exclude_;
  std::vector<AddressRange> ranges_;
  std::vector<uint64_t> starts_;  // index of each range's first address
  uint64_t total_ = 0;
  uint64_t skipped_special_ = 0;

 public:
  ~TargetSet();
  TargetSet(TargetSet&&) noexcept;
  TargetSet& operator=(TargetSet&&) noexcept;
};

// One token of a target list file and the line it stands on (from 1), so that a bad entry
// can be reported as FILE:LINE.
struct TargetToken {
  std::string text;
  int line = 0;
  bool operator==(const TargetToken&) const = default;
};

// Tokens of a target list file ("-" is standard input): separated by white space or commas,
// '#' starts a comment. An unreadable file is bad input.
Result<std::vector<TargetToken>> read_target_file(const std::string& path);
// The tokens of a target list's contents (what read_target_file does once the file is read).
std::vector<TargetToken> split_target_list(std::string_view content);

}  // namespace tcpkit
