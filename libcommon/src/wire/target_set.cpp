#include "tcpkit/wire/target_set.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "tcpkit/wire/endpoint.hpp"

namespace tcpkit {

// 128-bit arithmetic keeps IPv4 and IPv6 ranges in one code path.
__extension__ typedef unsigned __int128 u128;

struct TargetSet::Span {
  bool v6 = false;
  u128 lo = 0, hi = 0;  // inclusive
};
using Span = TargetSet::Span;

namespace {

u128 to_number(const IpAddress& a) {
  u128 v = 0;
  for (size_t i = 0; i < a.size(); ++i) v = (v << 8) | a.data()[i];
  return v;
}

IpAddress to_address(bool v6, u128 v) {
  if (!v6) return IpAddress::from_v4_host_order(uint32_t(v));
  uint8_t b[16];
  for (int i = 15; i >= 0; --i) {
    b[i] = uint8_t(v);
    v >>= 8;
  }
  return IpAddress::from_v6(b);
}

u128 span_count(const Span& s) { return s.hi - s.lo + 1; }

bool span_less(const Span& a, const Span& b) { return a.v6 != b.v6 ? !a.v6 : a.lo < b.lo; }

// Sorts and merges overlapping or adjacent spans.
std::vector<Span> normalise(std::vector<Span> spans) {
  std::sort(spans.begin(), spans.end(), span_less);
  std::vector<Span> out;
  for (const auto& s : spans) {
    if (!out.empty() && out.back().v6 == s.v6 && s.lo <= out.back().hi + 1 && out.back().hi + 1 != 0) {
      out.back().hi = std::max(out.back().hi, s.hi);
    } else if (!out.empty() && out.back().v6 == s.v6 && out.back().hi + 1 == 0) {
      // The previous span already reaches the top of the address space.
    } else {
      out.push_back(s);
    }
  }
  return out;
}

// include minus exclude; both normalised.
std::vector<Span> subtract(const std::vector<Span>& include, const std::vector<Span>& exclude) {
  std::vector<Span> out;
  for (Span s : include) {
    bool alive = true;
    for (const auto& x : exclude) {
      if (x.v6 != s.v6 || x.hi < s.lo || x.lo > s.hi) continue;
      if (x.lo > s.lo) out.push_back(Span{s.v6, s.lo, x.lo - 1});
      if (x.hi >= s.hi) {
        alive = false;
        break;
      }
      s.lo = x.hi + 1;
    }
    if (alive) out.push_back(s);
  }
  return out;
}

struct SpecialBlock {
  bool v6;
  u128 lo, hi;
  const char* what;
};

// Addresses a scan must not hit by accident: multicast, the limited broadcast, "this network".
const std::vector<SpecialBlock>& special_blocks() {
  static const std::vector<SpecialBlock> blocks = {
      {false, 0x00000000u, 0x00ffffffu, "a \"this network\" address (0.0.0.0/8)"},
      {false, 0xe0000000u, 0xefffffffu, "a multicast address (224.0.0.0/4)"},
      {false, 0xffffffffu, 0xffffffffu, "the limited broadcast address"},
      {true, 0, 0, "the unspecified address"},
      {true, u128(0xff) << 120, ~u128(0), "a multicast address (ff00::/8)"},
  };
  return blocks;
}

bool looks_like_host_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') return false;
  return s.front() != '-' && s.front() != '.';
}

// The right side of "10.0.0.1-50" or "2001:db8::1-ff": a new last octet / last group.
std::optional<u128> short_range_end(u128 lo, bool v6, std::string_view text) {
  if (text.empty() || text.size() > (v6 ? 4u : 3u)) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (v6 ? !std::isxdigit(u) : !std::isdigit(u)) return std::nullopt;
    value = value * (v6 ? 16 : 10) + unsigned(std::isdigit(u) ? c - '0' : std::tolower(u) - 'a' + 10);
  }
  const unsigned bits = v6 ? 16 : 8;
  if (value >= (1u << bits)) return std::nullopt;
  return (lo >> bits << bits) | value;
}

}  // namespace

TargetSet::TargetSet(TargetOptions options, HostResolver resolver)
    : options_(options), resolver_(std::move(resolver)) {
  if (!resolver_) resolver_ = [](const std::string& host, Family family) { return resolve_host(host, family); };
}
TargetSet::~TargetSet() = default;
TargetSet::TargetSet(TargetSet&&) noexcept = default;
TargetSet& TargetSet::operator=(TargetSet&&) noexcept = default;

namespace {
tl::unexpected<Error> bad_target(const std::string& text, const std::string& why) {
  return fail(ErrorCode::bad_input, "invalid target '" + text + "': " + why);
}

Result<void> check_family(Family family, const std::string& text, bool v6) {
  if (family == Family::v4 && v6) return bad_target(text, "an IPv6 address, but -4 was given");
  if (family == Family::v6 && !v6) return bad_target(text, "an IPv4 address, but -6 was given");
  return {};
}
}  // namespace

// "10.0.0.0/24": the block, less its network and broadcast addresses unless asked for.
Result<Span> TargetSet::parse_cidr(const std::string& text, std::string_view token, bool for_exclusion) {
  auto cidr = Cidr::parse(token);
  if (!cidr) return bad_target(text, "expected a CIDR block such as 10.0.0.0/24 or 2001:db8::/120");
  // An IPv4-mapped block (::ffff:10.0.0.0/120) is the IPv4 block it stands for, as a single
  // mapped address is (found: "no route to ::ffff:10.0.0.1", exit 4).
  if (cidr->base.is_v6() && cidr->base.unmapped().is_v4() && cidr->prefix >= 96)
    cidr = Cidr{cidr->base.unmapped(), cidr->prefix - 96};
  const bool v6 = cidr->base.is_v6();
  if (auto ok = check_family(options_.family, text, v6); !ok) return tl::unexpected(ok.error());
  const int host_bits = (v6 ? 128 : 32) - cidr->prefix;
  if (host_bits > 32) return bad_target(text, "more than 2^32 addresses; tcpscan scans at most 2^32 at once");
  Span s{v6, to_number(cidr->base), 0};
  s.hi = s.lo + ((u128(1) << host_bits) - 1);
  // Network and broadcast addresses of a block are left out unless asked for.
  if (!for_exclusion && !options_.allow_special && host_bits >= 2) {
    ++s.lo;
    ++skipped_special_;
    if (!v6) {
      --s.hi;
      ++skipped_special_;
    }
  }
  return s;
}

// "10.0.0.1-50" or "10.0.0.1-10.0.1.20": first is the address left of the dash. IPv4-mapped
// ends (::ffff:10.0.0.1-20) are the IPv4 range they stand for.
Result<Span> TargetSet::parse_range(const std::string& text, const IpAddress& given_first, std::string_view right) {
  const IpAddress first = given_first.unmapped();
  const bool v6 = first.is_v6();
  if (auto ok = check_family(options_.family, text, v6); !ok) return tl::unexpected(ok.error());
  const u128 lo = to_number(first);
  u128 hi;
  if (auto parsed_last = IpAddress::parse(right)) {
    const auto last = std::optional<IpAddress>(parsed_last->unmapped());
    if (last->is_v6() != v6) return bad_target(text, "the two ends of a range must be of one family");
    hi = to_number(*last);
  } else if (auto end = short_range_end(lo, v6, right)) {
    hi = *end;
  } else {
    return bad_target(text, v6 ? "expected a range such as 2001:db8::1-2001:db8::ff or 2001:db8::1-ff"
                               : "expected a range such as 10.0.0.1-50 or 10.0.0.1-10.0.1.20");
  }
  if (hi < lo) return bad_target(text, "the range ends before it starts");
  if (hi - lo >= kMaxAddresses) return bad_target(text, "more than 2^32 addresses; tcpscan scans at most 2^32 at once");
  return Span{v6, lo, hi};
}

// A host name: like nmap, one address per name, IPv4 first unless -6 asked otherwise.
Result<Span> TargetSet::resolve_name(const std::string& text, std::string_view token) {
  if (!looks_like_host_name(token)) return bad_target(text, "not an address, CIDR block, range or host name");
  auto addresses = resolver_(std::string(token), options_.family);
  if (!addresses) return tl::unexpected(addresses.error());
  if (addresses->empty()) return bad_target(text, "the name has no address");
  const IpAddress* chosen = &addresses->front();
  for (const auto& a : *addresses)
    if (options_.family == Family::any && a.is_v4()) {
      chosen = &a;
      break;
    }
  const u128 v = to_number(*chosen);
  return Span{chosen->is_v6(), v, v};
}

Result<std::vector<Span>> TargetSet::parse(std::string_view token, bool for_exclusion) {
  const std::string text(token);
  if (token.empty()) return fail(ErrorCode::bad_input, "empty target");
  if (token.size() >= 2 && token.front() == '[' && token.back() == ']') token = token.substr(1, token.size() - 2);
  Result<Span> span = [&]() -> Result<Span> {
    if (token.find('/') != std::string_view::npos) return parse_cidr(text, token, for_exclusion);
    if (const auto dash = token.find('-'); dash != std::string_view::npos)
      if (auto first = IpAddress::parse(token.substr(0, dash)))
        return parse_range(text, *first, token.substr(dash + 1));
    if (auto parsed = IpAddress::parse(token)) {
      const IpAddress literal = parsed->unmapped();  // ::ffff:10.0.0.1 is 10.0.0.1, as in resolve_host
      if (auto ok = check_family(options_.family, text, literal.is_v6()); !ok) return tl::unexpected(ok.error());
      const u128 v = to_number(literal);
      return Span{literal.is_v6(), v, v};
    }
    return resolve_name(text, token);
  }();
  if (!span) return tl::unexpected(span.error());
  return std::vector<Span>{*span};
}

Result<void> TargetSet::add(std::string_view token) {
  auto spans = parse(token, false);
  if (!spans) return tl::unexpected(spans.error());
  include_.insert(include_.end(), spans->begin(), spans->end());
  return {};
}

Result<void> TargetSet::exclude(std::string_view token) {
  // Exclusions name addresses of either family, whatever -4/-6 say.
  const Family family = options_.family;
  options_.family = Family::any;
  auto spans = parse(token, true);
  options_.family = family;
  if (!spans) return tl::unexpected(spans.error());
  exclude_.insert(exclude_.end(), spans->begin(), spans->end());
  return {};
}

Result<void> TargetSet::finalize() {
  const std::vector<Span> spans = subtract(normalise(include_), normalise(exclude_));
  if (!options_.allow_special) {
    for (const auto& s : spans)
      for (const auto& b : special_blocks())
        if (b.v6 == s.v6 && s.lo <= b.hi && b.lo <= s.hi)
          return fail(ErrorCode::bad_input, "the targets include " + to_address(s.v6, std::max(s.lo, b.lo)).to_string() +
                                                ", " + b.what + "; exclude it or pass --allow-broadcast");
  }
  ranges_.clear();
  starts_.clear();
  u128 total = 0;
  for (const auto& s : spans) {
    starts_.push_back(uint64_t(total));
    total += span_count(s);
    if (total > kMaxAddresses)
      return fail(ErrorCode::bad_input, "the targets cover more than 2^32 addresses; split the scan");
    ranges_.push_back(AddressRange{to_address(s.v6, s.lo), to_address(s.v6, s.hi), uint64_t(span_count(s))});
  }
  total_ = uint64_t(total);
  include_.clear();
  exclude_.clear();
  return {};
}

size_t TargetSet::range_of(uint64_t index) const {
  return size_t(std::upper_bound(starts_.begin(), starts_.end(), index) - starts_.begin()) - 1;
}

IpAddress TargetSet::at(uint64_t index) const {
  const size_t r = range_of(index);
  const auto& range = ranges_[r];
  return to_address(range.first.is_v6(), to_number(range.first) + (index - starts_[r]));
}

std::optional<uint64_t> TargetSet::index_of(const IpAddress& address) const {
  const u128 v = to_number(address);
  const bool v6 = address.is_v6();
  // ranges_ are sorted IPv4 first, then by first address.
  size_t lo = 0, hi = ranges_.size();
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    const auto& r = ranges_[mid];
    const bool before = r.first.is_v6() != v6 ? !r.first.is_v6() : to_number(r.last) < v;
    if (before) lo = mid + 1;
    else hi = mid;
  }
  if (lo == ranges_.size()) return std::nullopt;
  const auto& r = ranges_[lo];
  if (r.first.is_v6() != v6 || v < to_number(r.first) || v > to_number(r.last)) return std::nullopt;
  return starts_[lo] + uint64_t(v - to_number(r.first));
}

bool TargetSet::has_family(Family family) const {
  for (const auto& r : ranges_)
    if (family == Family::any || r.first.family() == family) return true;
  return false;
}

std::vector<TargetToken> split_target_list(std::string_view content) {
  std::vector<TargetToken> tokens;
  std::string current;
  bool comment = false;
  int line = 1;
  for (char c : content) {
    if (c == '\n') comment = false;
    if (!comment) {
      if (c == '#') comment = true;
      if (c == '#' || c == ',' || std::isspace(static_cast<unsigned char>(c))) {
        if (!current.empty()) tokens.push_back(TargetToken{std::move(current), line});
        current.clear();
      } else {
        current += c;
      }
    }
    if (c == '\n') ++line;
  }
  if (!current.empty()) tokens.push_back(TargetToken{std::move(current), line});
  return tokens;
}

Result<std::vector<TargetToken>> read_target_file(const std::string& path) {
  std::string content;
  if (path == "-") {
    content.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    // A directory opens but throws on the first read (EISDIR): say so instead.
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
      return fail(ErrorCode::bad_input, "cannot read target file '" + path + "': it is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(ErrorCode::bad_input, "cannot read target file '" + path + "'");
    try {
      content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } catch (const std::exception&) {
      return fail(ErrorCode::bad_input, "cannot read target file '" + path + "'");
    }
    if (in.bad()) return fail(ErrorCode::bad_input, "cannot read target file '" + path + "'");
  }
  return split_target_list(content);
}

}  // namespace tcpkit
