#include "tcpkit/wire/tcp_options.hpp"

#include <algorithm>

namespace tcpkit {

namespace {

uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

std::array<uint8_t, 4> be32(uint32_t v) { return {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}; }

std::string hex(std::span<const uint8_t> data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

// The text of one option; timestamps without their values in the brief style.
std::string option_text(const TcpOption& o, OptionText style, uint32_t sack_base = 0) {
  const auto& d = o.data;
  if (o.malformed) return "malformed option " + std::to_string(o.kind) + (d.empty() ? "" : " 0x" + hex(d));
  switch (o.kind) {
    case tcp_option::eol: return "eol";
    case tcp_option::nop: return "nop";
    case tcp_option::mss:
      if (d.size() == 2) return "mss " + std::to_string(get16(d.data()));
      break;
    case tcp_option::window_scale:
      if (d.size() == 1) return "wscale " + std::to_string(d[0]);
      break;
    case tcp_option::sack_permitted:
      if (d.empty()) return "sackOK";
      break;
    case tcp_option::timestamps:
      if (d.size() == 8)
        return style == OptionText::brief
                   ? std::string("TS")
                   : "TS val " + std::to_string(get32(d.data())) + " ecr " + std::to_string(get32(d.data() + 4));
      break;
    case tcp_option::sack:
      if (d.size() % 8 == 0) {
        std::string out = "sack " + std::to_string(d.size() / 8) + " ";
        for (size_t b = 0; b < d.size(); b += 8)
          out += "{" + std::to_string(get32(d.data() + b) - sack_base) + ":" +
                 std::to_string(get32(d.data() + b + 4) - sack_base) + "}";
        return out;
      }
      break;
    default:
      return "opt-" + std::to_string(o.kind) + (d.empty() ? "" : " 0x" + hex(d));
  }
  // A known kind with a length its RFC does not allow.
  return "opt-" + std::to_string(o.kind) + " bad length " + std::to_string(d.size() + 2) +
         (d.empty() ? "" : " 0x" + hex(d));
}

}  // namespace

void TcpOptions::append(std::initializer_list<uint8_t> head, std::span<const uint8_t> data) {
  const size_t n = head.size() + data.size();
  needed_ += n;
  if (needed_ > kMaxBytes || size_ + n > kMaxBytes) return;
  entries_[count_++] = Entry{size_, uint8_t(n), false};
  for (uint8_t b : head) bytes_[size_++] = b;
  for (uint8_t b : data) bytes_[size_++] = b;
}

TcpOptions& TcpOptions::add(uint8_t kind, std::span<const uint8_t> data) {
  if (kind == tcp_option::eol || kind == tcp_option::nop)
    append({kind}, {});
  else
    append({kind, uint8_t(std::min<size_t>(data.size() + 2, 255))}, data);
  return *this;
}

TcpOptions& TcpOptions::add_nop() { return add(tcp_option::nop, {}); }
TcpOptions& TcpOptions::add_eol() { return add(tcp_option::eol, {}); }

TcpOptions& TcpOptions::add_mss(uint16_t mss) {
  const uint8_t v[] = {uint8_t(mss >> 8), uint8_t(mss)};
  return add(tcp_option::mss, v);
}

TcpOptions& TcpOptions::add_window_scale(uint8_t shift) {
  const uint8_t v[] = {shift};
  return add(tcp_option::window_scale, v);
}

TcpOptions& TcpOptions::add_sack_permitted() { return add(tcp_option::sack_permitted, {}); }

TcpOptions& TcpOptions::add_timestamps(uint32_t tsval, uint32_t tsecr) {
  const auto a = be32(tsval), b = be32(tsecr);
  const uint8_t v[] = {a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]};
  return add(tcp_option::timestamps, v);
}

TcpOptions& TcpOptions::add_sack(std::span<const std::pair<uint32_t, uint32_t>> blocks) {
  std::vector<uint8_t> v;
  v.reserve(blocks.size() * 8);
  for (const auto& [left, right] : blocks)
    for (uint32_t edge : {left, right})
      for (uint8_t b : be32(edge)) v.push_back(b);
  return add(tcp_option::sack, v);
}

TcpOptions TcpOptions::decode(const uint8_t* data, size_t len) {
  TcpOptions out;
  len = std::min(len, kMaxBytes);
  size_t i = 0;
  while (i < len) {
    const uint8_t kind = data[i];
    size_t size = 1;
    bool malformed = false;
    if (kind != tcp_option::eol && kind != tcp_option::nop) {
      size = i + 1 < len ? data[i + 1] : 0;
      if (size < 2 || size > len - i) {  // no length byte, or one that cannot be right
        size = len - i;
        malformed = true;
      }
    }
    out.entries_[out.count_++] = Entry{uint8_t(i), uint8_t(size), malformed};
    std::copy(data + i, data + i + size, out.bytes_.begin() + long(i));
    i += size;
    if (kind == tcp_option::eol) break;  // later bytes are padding
  }
  out.size_ = uint8_t(i);
  out.needed_ = i;
  return out;
}

TcpOption TcpOptions::at(size_t i) const {
  const Entry& e = entries_[i];
  const uint8_t* p = bytes_.data() + e.offset;
  TcpOption o;
  o.kind = p[0];
  o.malformed = e.malformed;
  if (e.malformed)
    o.data = {p + 1, size_t(e.size - 1)};
  else if (e.size >= 2)
    o.data = {p + 2, size_t(e.size - 2)};
  return o;
}

bool TcpOptions::malformed() const {
  return cut_short_ || (count_ > 0 && entries_[count_ - 1].malformed);
}

bool TcpOptions::empty() const {
  for (size_t i = 0; i < count_; ++i) {
    const uint8_t kind = bytes_[entries_[i].offset];
    if (kind != tcp_option::nop && kind != tcp_option::eol) return false;
  }
  return true;
}

const TcpOptions::Entry* TcpOptions::last_of(uint8_t kind, size_t data_size) const {
  for (size_t i = count_; i-- > 0;) {
    const Entry& e = entries_[i];
    if (!e.malformed && bytes_[e.offset] == kind && e.size == data_size + 2) return &e;
  }
  return nullptr;
}

std::optional<uint16_t> TcpOptions::mss() const {
  const Entry* e = last_of(tcp_option::mss, 2);
  return e ? std::optional<uint16_t>(get16(&bytes_[e->offset + 2])) : std::nullopt;
}

std::optional<uint8_t> TcpOptions::window_scale() const {
  const Entry* e = last_of(tcp_option::window_scale, 1);
  return e ? std::optional<uint8_t>(bytes_[e->offset + 2]) : std::nullopt;
}

bool TcpOptions::sack_permitted() const { return last_of(tcp_option::sack_permitted, 0) != nullptr; }

std::optional<std::pair<uint32_t, uint32_t>> TcpOptions::timestamps() const {
  const Entry* e = last_of(tcp_option::timestamps, 8);
  if (!e) return std::nullopt;
  return std::make_pair(get32(&bytes_[e->offset + 2]), get32(&bytes_[e->offset + 6]));
}

std::vector<std::pair<uint32_t, uint32_t>> TcpOptions::sack_blocks() const {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (size_t i = 0; i < count_; ++i) {
    const TcpOption o = at(i);
    if (o.malformed || o.kind != tcp_option::sack) continue;
    for (size_t b = 0; b + 8 <= o.data.size(); b += 8) out.emplace_back(get32(o.data.data() + b), get32(o.data.data() + b + 4));
  }
  return out;
}

bool TcpOptions::set_timestamps(uint32_t tsval, uint32_t tsecr) {
  bool found = false;
  for (size_t i = 0; i < count_; ++i) {
    const Entry& e = entries_[i];
    if (e.malformed || bytes_[e.offset] != tcp_option::timestamps || e.size != 10) continue;
    const auto a = be32(tsval), b = be32(tsecr);
    std::copy(a.begin(), a.end(), bytes_.begin() + e.offset + 2);
    std::copy(b.begin(), b.end(), bytes_.begin() + e.offset + 6);
    found = true;
  }
  return found;
}

std::string TcpOptions::to_string(OptionText style, std::optional<uint32_t> sack_base) const {
  std::string out;
  for (size_t i = 0; i < count_; ++i) {
    const TcpOption o = at(i);
    if (style == OptionText::brief && !o.malformed && (o.kind == tcp_option::nop || o.kind == tcp_option::eol)) continue;
    out += (out.empty() ? "" : ",") + option_text(o, style, sack_base.value_or(0));
  }
  if (cut_short_) out += out.empty() ? "cut short" : ",cut short";
  return out;
}

bool TcpOptions::operator==(const TcpOptions& other) const {
  if (count_ != other.count_ || size_ != other.size_ || cut_short_ != other.cut_short_) return false;
  for (size_t i = 0; i < count_; ++i)
    if (entries_[i].malformed != other.entries_[i].malformed || entries_[i].size != other.entries_[i].size) return false;
  return std::equal(bytes_.begin(), bytes_.begin() + size_, other.bytes_.begin());
}

TcpOptions linux_layout(uint16_t mss, uint32_t tsval, uint8_t window_scale) {
  TcpOptions o;
  o.add_mss(mss).add_sack_permitted().add_timestamps(tsval, 0).add_nop().add_window_scale(window_scale);
  return o;
}

TcpOptions timestamp_echo(uint32_t tsval, uint32_t tsecr) {
  TcpOptions o;
  o.add_nop().add_nop().add_timestamps(tsval, tsecr);
  return o;
}

std::vector<OptionChange> diff_options(const TcpOptions& sent, const TcpOptions& seen) {
  // Align the two lists by kind (longest common subsequence; a list holds at most 40). Aligned
  // pairs with other bytes are changes; what is left of the sent list was removed, or moved
  // when the same option is left over in the seen list; what is left of that was added.
  const size_t n = sent.count(), m = seen.count();
  std::vector<std::vector<uint8_t>> lcs(n + 1, std::vector<uint8_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;)
      lcs[i][j] = sent.at(i).kind == seen.at(j).kind ? uint8_t(lcs[i + 1][j + 1] + 1)
                                                     : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  std::vector<size_t> pair_of(n, m);  // the seen index aligned with each sent option
  for (size_t i = 0, j = 0; i < n && j < m;) {
    if (sent.at(i).kind == seen.at(j).kind && lcs[i][j] == lcs[i + 1][j + 1] + 1)
      pair_of[i++] = j++;
    else if (lcs[i + 1][j] >= lcs[i][j + 1])
      ++i;
    else
      ++j;
  }
  auto same = [](const TcpOption& a, const TcpOption& b) {
    return a.kind == b.kind && a.malformed == b.malformed && std::equal(a.data.begin(), a.data.end(), b.data.begin(), b.data.end());
  };
  std::vector<bool> seen_used(m, false);
  for (size_t i = 0; i < n; ++i)
    if (pair_of[i] < m) seen_used[pair_of[i]] = true;
  std::vector<OptionChange> out;
  for (size_t i = 0; i < n; ++i) {
    const TcpOption before = sent.at(i);
    const std::string text = option_text(before, OptionText::full);
    if (pair_of[i] < m) {
      const TcpOption after = seen.at(pair_of[i]);
      if (!same(before, after))
        out.push_back(OptionChange{OptionChange::What::changed, before.kind, text, option_text(after, OptionText::full)});
      continue;
    }
    size_t j = 0;
    while (j < m && (seen_used[j] || !same(before, seen.at(j)))) ++j;
    if (j < m) {
      seen_used[j] = true;
      out.push_back(OptionChange{OptionChange::What::moved, before.kind, text, text});
    } else {
      out.push_back(OptionChange{OptionChange::What::removed, before.kind, text, ""});
    }
  }
  // An option overwritten in place by NOPs: as many new NOPs as the option had bytes. Then the
  // NOPs are the removal's trace, not options of their own.
  size_t new_nops = 0;
  for (size_t j = 0; j < m; ++j) new_nops += !seen_used[j] && seen.at(j).kind == tcp_option::nop;
  for (OptionChange& c : out) {
    if (c.what != OptionChange::What::removed || c.kind == tcp_option::nop || c.kind == tcp_option::eol) continue;
    size_t i = 0;
    while (i < n && !(sent.at(i).kind == c.kind && pair_of[i] >= m)) ++i;
    const size_t length = i < n ? 2 + sent.at(i).data.size() : 0;
    if (length == 0 || new_nops < length) continue;
    for (size_t j = 0, left = length; j < m && left; ++j)
      if (!seen_used[j] && seen.at(j).kind == tcp_option::nop) {
        seen_used[j] = true;
        --left;
      }
    new_nops -= length;
    c.nops_in_place = true;
  }
  for (size_t j = 0; j < m; ++j)
    if (!seen_used[j])
      out.push_back(OptionChange{OptionChange::What::added, seen.at(j).kind, "", option_text(seen.at(j), OptionText::full)});
  return out;
}

std::string to_string(const OptionChange& c) {
  switch (c.what) {
    case OptionChange::What::removed: return c.before + (c.nops_in_place ? " removed (NOPs in its place)" : " removed");
    case OptionChange::What::added: return c.after + " added";
    case OptionChange::What::changed: return c.before + " -> " + c.after;
    case OptionChange::What::moved: return c.after + " moved";
  }
  return "?";
}

}  // namespace tcpkit

namespace tcpkit {

namespace {

// "name" or "name=value": the value parsed as a whole number up to max, or the default.
std::optional<uint32_t> option_value(std::string_view word, size_t name_len, uint32_t fallback, uint32_t max) {
  if (word.size() == name_len) return fallback;
  if (word[name_len] != '=' || word.size() == name_len + 1) return std::nullopt;
  const std::string_view digits = word.substr(name_len + 1);
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9' || v > max) return std::nullopt;
    v = v * 10 + uint64_t(c - '0');
  }
  if (v > max) return std::nullopt;
  return uint32_t(v);
}

}  // namespace

Result<TcpOptions> parse_option_list(std::string_view text) {
  if (text == "linux") return linux_layout();
  TcpOptions out;
  if (text == "none") return out;
  constexpr uint8_t kMaxShift = 14;  // RFC 7323 2.3
  auto bad = [&](std::string_view word, const std::string& why) {
    return fail(ErrorCode::bad_input, "option '" + std::string(word) + "': " + why);
  };
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string_view word = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    auto named = [&](std::string_view name) {
      return word.substr(0, name.size()) == name && (word.size() == name.size() || word[name.size()] == '=');
    };
    if (word == "nop") {
      out.add_nop();
    } else if (word == "eol") {
      out.add_eol();
    } else if (word == "sack") {
      out.add_sack_permitted();
    } else if (named("mss")) {
      const auto v = option_value(word, 3, 1460, 65535);
      if (!v) return bad(word, "mss=N wants 0-65535");
      out.add_mss(uint16_t(*v));
    } else if (named("ts")) {
      const auto v = option_value(word, 2, 1, UINT32_MAX);
      if (!v) return bad(word, "ts=TSVAL wants 0-4294967295");
      out.add_timestamps(*v, 0);
    } else if (named("ws")) {
      const auto v = option_value(word, 2, 7, kMaxShift);
      if (!v) return bad(word, "ws=SHIFT wants 0-14");
      out.add_window_scale(uint8_t(*v));
    } else {
      return bad(word, "not known (linux, none, or a list of mss[=N], sack, ts[=TSVAL], ws[=SHIFT], nop, eol)");
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (out.needed_bytes() > TcpOptions::kMaxBytes)
    return fail(ErrorCode::bad_input, "the options take " + std::to_string(out.needed_bytes()) +
                                          " bytes; a TCP header holds 40");
  return out;
}

}  // namespace tcpkit
