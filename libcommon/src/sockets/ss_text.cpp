#include "tcpkit/sockets/ss_text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "tcpkit/wire/service_names.hpp"

namespace tcpkit {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool is_space(char c) { return c == ' ' || c == '\t'; }

// The columns a line takes where fold and terminals wrap it: a tab to the next multiple of 8
// (ss starts its -i details with one), any other byte one.
size_t columns(std::string_view text) {
  constexpr size_t kTabStop = 8;
  size_t col = 0;
  for (char c : text) col = c == '\t' ? (col / kTabStop + 1) * kTabStop : col + 1;
  return col;
}

// How much of an unreadable field a warning quotes: enough to find it, never a whole line.
constexpr size_t kQuotedState = 40;
// A users:((...)) list longer than this is junk: the parse of untrusted text stays bounded.
constexpr int kMaxOwnerEntries = 4096;
constexpr size_t kQuotedField = 60;

// The prefixes of ss's -o and -e fields.
constexpr std::string_view kTimerOpen = "timer:(";
constexpr std::string_view kUid = "uid:";
constexpr std::string_view kInode = "ino:";
// The fields ss prints on a socket's own line after its addresses (-p, -o, -e): where a wrapped
// line goes on (its tail starts with one, or a cut one goes on).
constexpr std::array<std::string_view, 7> kLineFields = {"users:((", kTimerOpen, kUid, kInode, "sk:", "cgroup:", "v6only:"};

constexpr double kMsPerSecond = 1000, kMsPerMinute = 60000, kUsPerMs = 1000;
// Longer than any number or duration ss prints: junk is refused before any work on it.
constexpr size_t kMaxDecimalChars = 24, kMaxDurationChars = 32;
// 2^53: up to here a double holds every integer, so the rounding to whole ms is exact.
constexpr double kExactDoubleLimit = 9007199254740992.0;
// ss -i prints some 40 fields a socket: more than this is junk, read no further.
constexpr size_t kMaxInfoFields = 256;

// The Netid values ss prints when more than one protocol is shown.
bool is_netid(std::string_view s) {
  for (std::string_view n : {"tcp", "udp", "raw", "u_str", "u_dgr", "u_seq", "nl", "p_raw", "p_dgr", "mptcp",
                             "sctp", "dccp", "v_str", "v_dgr", "xdp", "tipc", "???"})
    if (s == n) return true;
  return false;
}

// "12.5" -> 12.5; digits with at most one '.', nothing else.
std::optional<double> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > kMaxDecimalChars) return std::nullopt;
  double value = 0;
  double scale = 0;
  bool digit_seen = false;
  for (char c : text) {
    if (c == '.') {
      if (scale != 0) return std::nullopt;
      scale = 1;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    digit_seen = true;
    if (scale == 0) {
      value = value * 10 + (c - '0');
    } else {
      scale /= 10;
      value += (c - '0') * scale;
    }
  }
  if (!digit_seen) return std::nullopt;
  return value;
}

IpAddress unspecified_like(const IpAddress& a) {
  const uint8_t zero[16] = {};
  return a.is_v4() ? IpAddress::from_v4(zero) : IpAddress::from_v6(zero);
}

// Old iproute2 (before brackets) printed IPv6 as ":::22" and the IPv4 wildcard as "*";
// newer versions bracket IPv6, print "0.0.0.0" and "*" for a dual-stack IPv6 wildcard.
// Decided by the first line that shows which: unknown until then.
enum class Dialect { unknown, legacy, modern };
Dialect dialect_of(std::string_view line) {
  line = line.substr(0, line.find("users:(("));  // process names may hold anything
  if (line.find('[') != std::string_view::npos || line.find("0.0.0.0") != std::string_view::npos) return Dialect::modern;
  if (line.find(":::") != std::string_view::npos) return Dialect::legacy;
  return Dialect::unknown;
}

// timer:(on,200ms,1)
bool parse_timer_field(std::string_view field, SocketRecord& s) {
  if (!starts_with(field, kTimerOpen) || field.back() != ')') return false;
  std::string_view body = field.substr(kTimerOpen.size(), field.size() - kTimerOpen.size() - 1);
  const size_t c1 = body.find(',');
  if (c1 == std::string_view::npos) return false;
  const size_t c2 = body.find(',', c1 + 1);
  const auto kind = parse_timer_name(body.substr(0, c1));
  if (!kind) return false;
  s.timer = *kind;
  const std::string_view when = body.substr(c1 + 1, c2 == std::string_view::npos ? std::string_view::npos : c2 - c1 - 1);
  if (auto ms = parse_ss_duration_ms(when)) s.timer_ms = *ms;
  else if (!when.empty()) return false;
  else s.timer_ms = 0;  // "timer:(keepalive,,0)": ss prints nothing for 0 ms left
  if (c2 != std::string_view::npos) {
    const auto r = parse_uint(body.substr(c2 + 1), UINT32_MAX);
    if (!r) return false;
    s.retransmits = static_cast<uint32_t>(*r);
  }
  return true;
}

// Where a line's process list starts, if it has one.
constexpr std::string_view kUsersOpen = "users:((";

struct Columns {
  bool netid = false;  // a Netid column comes first
  bool state = true;   // a State column (absent when ss was given a single state filter)
};

// Sockets whose "*:port *:*" family waits for the dialect, and every socket after them (order kept).
struct Held {
  SocketRecord socket;
  bool star = false;
};
constexpr size_t kMaxHeld = 1024;  // then the modern dialect is assumed, as for a text without evidence

}  // namespace

struct SsTextParser::Impl {
  Impl(SocketSink sink, TextParseReport& report, std::optional<TcpState> state)
      : sink_(std::move(sink)), report_(report), given_state_(state) {}

  bool stopped = false;  // line() returned false once: the parser takes nothing more

  // A line that did not read by itself (its process list cut, or more), waiting for the next
  // line: its wrapped tail, maybe. `pieces`: the lines joined in it so far.
  struct Cut {
    std::string text;
    size_t number = 0;
    size_t pieces = 1;
    std::string head;        // the first line (or the line above, read whole) ...
    size_t tail_number = 0;  // ... the line first joined to it ...
    size_t head_pieces = 1;  // ... and the lines in the head
  };

  bool line(std::string_view text) {
    const size_t number = ++number_;
    ++report_.lines;
    // A wrap cuts lines at one width: a wrapped line is as wide as the widest seen.
    const size_t widest_before = widest_;
    const size_t width = columns(text);
    widest_ = std::max(widest_, width);
    line_width_ = width;
    const bool after_header = std::exchange(header_above_, false);
    if (after_header && !starts_a_line(text) && header_piece(text)) {
      ++report_.skipped;  // the header's own wrapped tail ("ocess")
      header_above_ = true;
      return true;
    }
    if (cut_) {
      // The line above could not be read by itself (cut in its process list, its addresses,
      // anywhere): a wrapped line (fold, a terminal's copy) goes on here, and the two make it
      // whole. Else it is read as it is: kept without its processes, or a warning.
      Cut above = std::move(*cut_);
      cut_.reset();
      if (!starts_a_line(text)) {
        std::string joined = above.text + std::string(text);
        if (readable(above.number, joined)) {
          ++report_.rejoined_lines;
          if (!learn_dialect(joined)) return false;
          rejoined_pieces_ = above.pieces + 1;
          return main_line(above.number, joined, false);
        }
        if (above.pieces < kMaxPieces && joined.size() <= kMaxJoined) {  // wrapped more than once
          above.text = std::move(joined);
          ++above.pieces;
          cut_ = std::move(above);
          return true;
        }
      }
      if (!settle(above)) return false;
    } else if (pending_ && !pending_joinable_ && !info_text_.empty() && !starts_a_line(text) &&
               !split_fields(text, 1).empty() && info_last_width_ >= widest_before &&
               info_text_.size() + text.size() <= kMaxJoined) {
      // The -i details wrapped: read again whole (a field cut in two, "rtt:0.0" "5/0.02").
      info_text_ += text;
      info_last_width_ = width;
      TcpInfoSummary info = info_base_.value_or(TcpInfoSummary{});
      if (parse_ss_info_fields(info_text_, info)) pending_->info = info;
      ++report_.rejoined_lines;
      return true;
    } else if (pending_ && pending_joinable_ && !starts_a_line(text)) {
      // The line above was read, but may have been wrapped: its tail (a cut port, the owners,
      // the timer) makes it whole, or goes on into a process list cut again (wrapped twice).
      // Bounded: a line takes at most kMaxPieces lines and kMaxJoined bytes (each join reads
      // the whole line again).
      if (pending_pieces_ < kMaxPieces && pending_text_.size() + text.size() <= kMaxJoined &&
          continues_pending(text, pending_width_ >= widest_before)) {
        std::string joined = pending_text_ + std::string(text);
        if (readable(pending_number_, joined)) {
          pending_.reset();
          ++report_.rejoined_lines;
          if (!learn_dialect(joined)) return false;
          rejoined_pieces_ = pending_pieces_ + 1;
          return main_line(pending_number_, joined, false);
        }
        // Not whole yet (cut again in its timer or owners): the next lines may complete it; if
        // none does, the line above is read as it was (settle).
        pending_.reset();
        cut_ = Cut{std::move(joined), pending_number_, pending_pieces_ + 1, pending_text_, number, pending_pieces_};
        return true;
      }
    }
    size_t first = 0;
    while (first < text.size() && is_space(text[first])) ++first;
    if (first == text.size()) {
      ++report_.skipped;
      return true;
    }
    if (first > 0) {  // continuation: the -i details of the socket above
      pending_joinable_ = false;
      if (pending_) {
        info_base_ = pending_->info;
        info_text_ = std::string(text);
        info_last_width_ = width;
        TcpInfoSummary info = pending_->info.value_or(TcpInfoSummary{});
        if (parse_ss_info_fields(text, info)) pending_->info = info;
      } else {
        ++report_.skipped;
      }
      return true;
    }
    if (!flush() || !learn_dialect(text)) return false;
    return main_line(number, text);
  }

  bool finish() {
    if (cut_) {
      const Cut above = std::move(*cut_);
      cut_.reset();
      if (!settle(above)) return false;
    }
    if (!flush()) return false;
    if (dialect_ == Dialect::unknown) dialect_ = Dialect::modern;
    return release();
  }

 private:
  // A held line that no later line made whole is read as it is when only its processes are
  // cut (kept without them); else its first line is read as it was (a socket, or a warning),
  // and each line joined to it is a warning of its own.
  bool settle(const Cut& above) {
    const size_t list = above.text.find(kUsersOpen);
    const bool list_in_tail = list != std::string::npos && list + kUsersOpen.size() > above.head.size();
    if (above.pieces == 1 || (list_in_tail && readable(above.number, above.text, true)))
      return main_line(above.number, above.text, false);
    if (!main_line(above.number, above.head, false)) return false;
    for (size_t k = 0; k + above.head_pieces < above.pieces; ++k)
      warn(above.tail_number + k, "not a socket line, nor the rest of the line above");
    return true;
  }

  // The dialect, when unknown, from a line (a joined one too: ":::22" may sit in a tail); the
  // sockets held for it go out once it is known.
  bool learn_dialect(std::string_view text) {
    if (dialect_ != Dialect::unknown) return true;
    dialect_ = dialect_of(text);
    return dialect_ == Dialect::unknown || release();
  }

  // Pieces of header words only ("ddress:Port", "Peer Address:Port Pr", "ocess"): the tail of
  // a wrapped header.
  static bool header_piece(std::string_view text) {
    constexpr std::string_view kHeaderWords = "Netid State Recv-Q Send-Q Local Address:Port Peer Address:PortProcess";
    const auto fields = split_fields(text, 16);
    return !fields.empty() && std::all_of(fields.begin(), fields.end(), [&](std::string_view f) {
      return kHeaderWords.find(f) != std::string_view::npos;
    });
  }

  // Can this line begin one of ss's lines (a socket's, a header, a command)? Else it is the
  // tail of the line above, wrapped by fold or a terminal's copy at any column.
  bool starts_a_line(std::string_view text) const {
    if (text.empty() || is_space(text[0])) return false;
    const auto f = split_fields(text, 3);
    if (f.empty()) return false;
    if (f[0] == "State" || f[0] == "Netid" || f[0] == "Recv-Q" || parse_tcp_state(f[0]) || is_netid(f[0])) return true;
    // ss state X: each line starts with Recv-Q and Send-Q, then an address (a wrapped tail
    // "884 users:((...))" does not).
    if (!columns_.state && parse_uint(f[0])) return f.size() >= 3 && parse_uint(f[1]);
    return is_command_line(split_fields(text), "ss");
  }

  // Does the line read as a whole socket line by itself (no warning; owners whole, unless
  // owners_may_be_cut)?
  bool readable(size_t number, std::string_view text, bool owners_may_be_cut = false) {
    const TextParseReport saved_counts = quiet_copy();
    quiet_ = true;
    probe_ok_ = true;
    std::optional<SocketRecord> saved = std::move(pending_);
    pending_.reset();
    main_line(number, text, !owners_may_be_cut);
    const bool ok = probe_ok_ && pending_.has_value() && !cut_;
    pending_ = std::move(saved);
    cut_.reset();
    quiet_ = false;
    restore_counts(saved_counts);
    return ok;
  }

  // Could this line go on from the socket line above, read by itself? When it goes on with a
  // field ss prints on the socket's own line ("users:((...))", "timer:(...)", indented or not;
  // else an indented line holds the -i details), or when the line above is as wide as the
  // widest (`wide`: a wrap cuts there; a shorter line ended where ss ended it) and this line
  // continues its last field: a number going on ("…:844" "3 users:…", "ino:52" "996"), or a
  // field of ss's own cut short ("us" "ers:((…"). Junk after a padded line is none of these.
  bool continues_pending(std::string_view text, bool wide) const {
    const auto fields = split_fields(text, 1);
    if (fields.empty()) return false;
    const std::string_view f = fields.front();
    // ss -e's shutdown mark: "<->", "-->", "<--", "---" (not grep's "--" separator), or a
    // piece of one where a wrap cut it.
    auto shutdown_mark = [](std::string_view v) { return v == "<->" || v == "-->" || v == "<--" || v == "---"; };
    auto mark_piece = [](std::string_view v) {
      return !v.empty() && v.size() < 3 && v.find_first_not_of("<->") == std::string_view::npos;
    };
    // "users:(" too: the list's own second parenthesis may be the cut.
    auto own_field = [&](std::string_view v) {
      return starts_with(v, "users:(") || shutdown_mark(v) ||
             std::any_of(kLineFields.begin(), kLineFields.end(), [&](std::string_view w) { return starts_with(v, w); });
    };
    if (own_field(f)) return true;
    if (is_space(text[0]) || !wide || pending_text_.empty() || is_space(pending_text_.back())) return false;
    auto all_of = [](std::string_view v, std::string_view chars) { return v.find_first_not_of(chars) == std::string_view::npos; };
    constexpr std::string_view kDigits = "0123456789";
    constexpr std::string_view kNameChars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.";
    const auto head = split_fields(pending_text_);
    const std::string_view last = head.empty() ? std::string_view() : head.back();
    for (std::string_view word : kLineFields)
      if (!last.empty() && (starts_with(word, last) || starts_with(last, word))) return true;
    if (mark_piece(last)) return mark_piece(f) && last.size() + f.size() == 3;
    // The peer's port cut: digits go on from digits ("…:844" "3"), a name from a name
    // ("…:ht" "tp-alt", ss without -n).
    const size_t colon = last.rfind(':');
    const std::string_view port = colon == std::string_view::npos ? last : last.substr(colon + 1);
    if (!port.empty() && all_of(port, kDigits)) return all_of(f, std::string_view("0123456789,"));
    return !port.empty() && all_of(port, kNameChars) && all_of(f, kNameChars);
  }

  // The counts a quiet read may move, to put back after it.
  TextParseReport quiet_copy() const {
    TextParseReport r;
    r.skipped = report_.skipped;
    r.owners_unreadable = report_.owners_unreadable;
    return r;
  }
  void restore_counts(const TextParseReport& r) {
    report_.skipped = r.skipped;
    report_.owners_unreadable = r.owners_unreadable;
  }

  // A warning about line `number`; none while a line is only tried (quiet_), which then fails.
  void warn(size_t number, std::string message) {
    if (quiet_) probe_ok_ = false;
    else report_.warn(number, std::move(message));
  }

  bool flush() {
    if (!pending_) return true;
    tally_text_names(*pending_, report_);  // here, once: a wrapped line is read again before
    ++rows_;
    Held h{std::move(*pending_), pending_star_};
    pending_.reset();
    if (dialect_ == Dialect::unknown && (h.star || !held_.empty())) {
      held_.push_back(std::move(h));
      if (held_.size() < kMaxHeld) return true;
      dialect_ = Dialect::modern;
      return release();
    }
    return emit(h);
  }

  // The dialect is known: the held sockets get their "*" family and go out in order.
  bool release() {
    bool go_on = true;
    for (auto& h : held_)
      if (go_on) go_on = emit(h);
    held_.clear();
    return go_on;
  }

  bool emit(Held& h) {
    if (h.star) {
      const uint8_t zero[16] = {};
      const IpAddress any = dialect_ == Dialect::legacy ? IpAddress::from_v4(zero) : IpAddress::from_v6(zero);
      h.socket.local = any;
      h.socket.remote = any;
    }
    ++report_.sockets;  // counted as it reaches the sink: held sockets may never get there
    report_.states_seen.add(h.socket.state);
    return sink_(h.socket);
  }

  void header(const std::vector<std::string_view>& fields) {
    columns_.netid = fields[0] == "Netid";
    columns_.state = false;
    for (std::string_view f : fields) columns_.state = columns_.state || f == "State";
    ++report_.skipped;
  }

  // False: no State column and no state given; the caller stops.
  bool no_state_column() {
    if (given_state_) return true;
    report_.state_column_missing = true;
    return false;
  }

  // The owners go first: their names may hold spaces, so they are cut out before splitting;
  // `rest` is the line without them. An unreadable list is most often cut by a wrap: with
  // may_hold the line waits for the next (false: not read yet); else the socket is kept
  // without its processes.
  bool cut_owners(size_t number, std::string_view text, std::vector<ProcessRef>& owners, std::string& storage,
                  std::string_view& rest, bool may_hold) {
    rest = text;
    const size_t at = text.find(kUsersOpen);
    if (at == std::string_view::npos) return true;
    size_t consumed = 0;
    auto parsed = parse_ss_users(text.substr(at), consumed);
    if (!parsed) {
      if (quiet_) probe_ok_ = false;
      if (may_hold) {
        cut_ = Cut{std::string(text), number, 1, std::string(text), number + 1};
        return false;
      }
      ++report_.owners_unreadable;
      rest = text.substr(0, at);
      return true;
    }
    owners = std::move(*parsed);
    storage = std::string(text.substr(0, at)) + " " + std::string(text.substr(at + consumed));
    rest = storage;
    return true;
  }

  // How a line goes on after its first columns: read on, done with it, or stop the parse.
  enum class Step { next, done, stop };

  // Steps over the Netid column (another protocol's line is skipped) and notices a headerless
  // "ss -H state X" text. `i` ends on the State column, or on Recv-Q when there is none.
  Step leading_columns(const std::vector<std::string_view>& fields, size_t& i) {
    if (columns_.netid || (is_netid(fields[0]) && fields.size() > 1 && parse_tcp_state(fields[1]))) {
      if (fields[0] != "tcp") {  // another protocol: not ours, not an error
        ++report_.skipped;
        return Step::done;
      }
      i = 1;
    }
    // ss -H state X: no header, and the first line starts with Recv-Q instead of a state.
    if (columns_.state && rows_ == 0 && report_.malformed == 0 && i < fields.size() &&
        !parse_tcp_state(fields[i]) && parse_uint(fields[i]) && fields.size() >= i + 4 && parse_uint(fields[i + 1])) {
      columns_.state = false;
      if (!no_state_column()) return Step::stop;
    }
    return Step::next;
  }

  // The State column, or the state ss was given; `i` moves past it. False after a warning.
  bool read_state(size_t number, const std::vector<std::string_view>& fields, size_t& i, SocketRecord& s) {
    if (!columns_.state) {
      s.state = *given_state_;
      return true;
    }
    if (i >= fields.size()) return warn(number, "truncated line"), false;
    const auto state = parse_tcp_state(fields[i]);
    if (!state) return warn(number, "unknown TCP state '" + std::string(fields[i].substr(0, kQuotedState)) + "'"), false;
    if (given_state_) report_.given_state_unused = true;  // each line's own state wins
    s.state = *state;
    ++i;
    return true;
  }

  // Recv-Q, Send-Q, and the local and peer address from fields[i..i+3]. False after a warning.
  bool read_queues_and_ends(size_t number, const std::vector<std::string_view>& fields, size_t i, SocketRecord& s) {
    if (i + 4 > fields.size()) return warn(number, "expected Recv-Q, Send-Q, local and peer address"), false;
    const auto rq = parse_uint(fields[i], UINT32_MAX);
    const auto sq = parse_uint(fields[i + 1], UINT32_MAX);
    if (!rq || !sq) return warn(number, "Recv-Q and Send-Q must be numbers"), false;
    s.recv_q = static_cast<uint32_t>(*rq);
    s.send_q = static_cast<uint32_t>(*sq);
    const Family star_family = dialect_ == Dialect::legacy ? Family::v4 : Family::v6;
    auto local = parse_text_endpoint(fields[i + 2], star_family, &services_);
    auto peer = parse_text_endpoint(fields[i + 3], star_family, &services_);
    if (!local) return warn(number, "unreadable local address '" + std::string(fields[i + 2].substr(0, kQuotedField)) + "'"), false;
    if (!peer) return warn(number, "unreadable peer address '" + std::string(fields[i + 3].substr(0, kQuotedField)) + "'"), false;
    // '*' and host names take the family of the other side ("0.0.0.0:8080 *:*", "*:22 *:*").
    const bool local_vague = local->star_address || !local->host_name.empty();
    const bool peer_vague = peer->star_address || !peer->host_name.empty();
    if (local_vague && !peer_vague) local->address = unspecified_like(peer->address);
    if (peer_vague && !local_vague) peer->address = unspecified_like(local->address);
    if (local->address.family() != peer->address.family())
      return warn(number, "local and peer addresses are of different families"), false;
    pending_star_ = local->star_address && peer->star_address;
    // Names at both ends (ss -r; or "*:22 name:*", which ss does not print): no family known.
    s.family_known = !(local_vague && peer_vague && !pending_star_);
    set_text_endpoints(s, *local, *peer);
    if (!s.family_known) s.local = s.remote = IpAddress();  // an address is needed; StateCounts keeps them apart
    return true;
  }

  // The ss -o / -e fields from fields[first] on: timer, uid, inode. False after a warning.
  bool read_extras(size_t number, const std::vector<std::string_view>& fields, size_t first, SocketRecord& s) {
    bool ext_seen = false;
    for (size_t k = first; k < fields.size(); ++k) {
      const std::string_view f = fields[k];
      if (starts_with(f, kTimerOpen)) {
        if (!parse_timer_field(f, s)) return warn(number, "unreadable timer '" + std::string(f.substr(0, kQuotedField)) + "'"), false;
      } else if (starts_with(f, kUid)) {
        if (auto v = parse_uint(f.substr(kUid.size()), UINT32_MAX)) s.uid = static_cast<uint32_t>(*v);
      } else if (starts_with(f, kInode)) {
        if (auto v = parse_uint(f.substr(kInode.size()))) s.inode = *v;
        ext_seen = true;
      }
    }
    // ss -e leaves out "uid:0".
    if (ext_seen && !s.uid) s.uid = 0;
    return true;
  }

  // State, queues, ends, -o/-e fields and -i details from a line's fields. False after a warning.
  bool read_socket(size_t number, const std::vector<std::string_view>& fields, std::string_view rest, size_t i,
                   SocketRecord& s) {
    if (!read_state(number, fields, i, s) || !read_queues_and_ends(number, fields, i, s)) return false;
    if (!read_extras(number, fields, i + 4, s)) return false;
    TcpInfoSummary info;
    if (parse_ss_info_fields(rest.substr(static_cast<size_t>(fields[i + 3].data() - rest.data())), info)) s.info = info;
    return true;
  }

  bool main_line(size_t number, std::string_view text, bool may_hold = true) {
    std::vector<ProcessRef> owners;
    std::string rest_storage;  // the line without its owners; `rest` and the fields point into it
    std::string_view rest;
    if (!cut_owners(number, text, owners, rest_storage, rest, may_hold)) return true;
    split_fields(rest, fields_);
    const auto& fields = fields_;
    if (fields.empty()) return true;
    if (is_command_line(fields, "ss")) {
      ++report_.skipped;
      if (!command_line_) command_line_ = number;
      return true;
    }
    if (fields[0] == "State" || fields[0] == "Netid" || fields[0] == "Recv-Q") {
      // A header after sockets: a second ss output (a file of several, `while ss; do ...`).
      // Their sum is no host's state: the first alone is read (found: two copies of one
      // capture made a SYN queue 'full' at twice its sockets, and the verdict FLOOD). It
      // begins with the command copied above its header, when there is one.
      if (!quiet_ && (rows_ > 0 || pending_)) {
        report_.second_output_line = command_line_ ? command_line_ : number;
        finish();
        return false;
      }
      header(fields);
      header_above_ = !quiet_;
      command_line_ = 0;
      return columns_.state || no_state_column();
    }
    size_t i = 0;
    if (const Step step = leading_columns(fields, i); step != Step::next) return step == Step::done;
    // A socket line that does not read by itself may be the head of a wrapped one: read it
    // quietly, and when it fails let it wait for the next line (main_line is called again,
    // without may_hold, to warn when none completes it).
    const bool tentative = may_hold && !quiet_ && columns(text) >= widest_ && starts_a_line(text);
    if (tentative) {
      quiet_ = true;
      probe_ok_ = true;
    }
    SocketRecord s;
    const bool read = read_socket(number, fields, rest, i, s);
    if (tentative) quiet_ = false;
    if (tentative && !(read && probe_ok_)) {
      cut_ = Cut{std::string(text), number, 1, std::string(text), number + 1};
      return true;
    }
    if (!read) return true;
    s.processes = std::move(owners);
    pending_ = std::move(s);
    if (quiet_) return true;  // only tried: readable() puts the socket above back
    command_line_ = 0;
    pending_text_.assign(text);
    pending_number_ = number;
    // Its last physical line's width (of a joined line, its last piece's: the line read now).
    pending_width_ = rejoined_pieces_ > 1 ? line_width_ : columns(text);
    pending_pieces_ = std::exchange(rejoined_pieces_, 1);
    pending_joinable_ = true;
    info_text_.clear();
    return true;
  }

  SocketSink sink_;
  std::vector<std::string_view> fields_;  // main_line's fields, one vector for every line (cleared each time)
  TextParseReport& report_;
  std::optional<TcpState> given_state_;
  ServiceNames services_;
  Dialect dialect_ = Dialect::unknown;
  Columns columns_;
  size_t number_ = 0;
  size_t rows_ = 0;  // socket lines read, whether or not they reached the sink yet
  size_t command_line_ = 0;  // a shell command copied since the last socket line: where an output begins
  std::optional<SocketRecord> pending_;
  bool pending_star_ = false;
  std::optional<Cut> cut_;
  static constexpr size_t kMaxPieces = 8;       // a line of ss -p wrapped at 30 columns or more
  static constexpr size_t kMaxJoined = 4096;    // no ss line is longer: junk stays bounded
  // The socket line above as it was read, for a tail that comes after it.
  std::string pending_text_;
  size_t pending_number_ = 0;
  bool pending_joinable_ = false;  // no -i details came between it and this line
  // Its -i details line so far, and its details before that line, for a wrapped tail of them.
  std::string info_text_;
  std::optional<TcpInfoSummary> info_base_;
  size_t info_last_width_ = 0;  // the width of its last line (a wrapped one is as wide as the widest)
  bool quiet_ = false;             // a line only tried: no warning, nothing counted
  bool probe_ok_ = true;           // ... and it read without one
  size_t widest_ = 0;              // the widest line so far, in columns
  size_t pending_width_ = 0;       // the socket line above: its width in columns ...
  size_t pending_pieces_ = 1;      // ... and the lines it was joined from
  size_t rejoined_pieces_ = 1;     // the pieces of the line main_line is given (set by the joins)
  size_t line_width_ = 0;          // the width of the line being read
  bool header_above_ = false;      // the line above was a header
  std::vector<Held> held_;
};

SsTextParser::SsTextParser(SocketSink sink, TextParseReport& report, std::optional<TcpState> state_if_missing)
    : impl_(std::make_unique<Impl>(std::move(sink), report, state_if_missing)) {}
SsTextParser::~SsTextParser() = default;
// Lines fed one by one end like those of parse_ss_text: a saved CRLF file reads the same.
bool SsTextParser::line(std::string_view text) {
  return !impl_->stopped && (impl_->line(without_cr(text)) || (impl_->stopped = true, false));
}
// After a stop nothing more reaches the sink, not even the sockets held for the dialect.
bool SsTextParser::finish() { return !impl_->stopped && impl_->finish(); }

std::optional<int64_t> parse_ss_duration_ms(std::string_view text) {
  if (text.empty() || text.size() > kMaxDurationChars) return std::nullopt;
  double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    const auto number = parse_decimal(text.substr(start, i - start));
    if (!number) return std::nullopt;
    const size_t unit_start = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    const bool has_dot = text.substr(start, unit_start - start).find('.') != std::string_view::npos;
    if (unit == "min") total += *number * kMsPerMinute;
    else if (unit == "sec" || unit == "s") total += *number * kMsPerSecond;
    else if (unit == "ms") total += has_dot ? *number * kMsPerSecond : *number;  // "1.488ms" is 1.488 s
    else return std::nullopt;
  }
  // Up to 24 digits a term, the sum reaches 1e34: llround of a value past int64 is undefined.
  // No timer is that long; past 2^53 ms (285,000 years) it is not a timer value.
  if (!(total <= kExactDoubleLimit)) return std::nullopt;
  return static_cast<int64_t>(std::llround(total));
}

bool parse_ss_info_fields(std::string_view text, TcpInfoSummary& info) {
  bool found = false;
  for (std::string_view f : split_fields(text, kMaxInfoFields)) {
    const size_t colon = f.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = f.substr(0, colon);
    const std::string_view value = f.substr(colon + 1);
    auto u32 = [&](uint32_t& out) {
      if (auto v = parse_uint(value, UINT32_MAX)) {
        out = static_cast<uint32_t>(*v);
        found = true;
      }
    };
    auto u64 = [&](uint64_t& out) {
      if (auto v = parse_uint(value)) {
        out = *v;
        found = true;
      }
    };
    auto pair = [&](auto&& first, auto&& second) {  // "a/b"
      const size_t slash = value.find('/');
      if (slash == std::string_view::npos) return;
      first(value.substr(0, slash));
      second(value.substr(slash + 1));
      found = true;
    };
    auto ms_to_us = [](std::string_view v, uint32_t& out) {
      if (auto d = parse_decimal(v); d && *d * kUsPerMs <= UINT32_MAX) out = static_cast<uint32_t>(std::llround(*d * kUsPerMs));
    };
    auto count = [](std::string_view v, uint32_t& out) {
      if (auto n = parse_uint(v, UINT32_MAX)) out = static_cast<uint32_t>(*n);
    };
    if (key == "rtt") pair([&](auto v) { ms_to_us(v, info.rtt_us); }, [&](auto v) { ms_to_us(v, info.rttvar_us); });
    else if (key == "rto") {
      if (auto d = parse_decimal(value); d && *d * kUsPerMs <= UINT32_MAX) {
        info.rto_us = static_cast<uint32_t>(std::llround(*d * kUsPerMs));
        found = true;
      }
    } else if (key == "cwnd") u32(info.cwnd);
    else if (key == "ssthresh") u32(info.ssthresh);
    else if (key == "mss") u32(info.mss);
    else if (key == "retrans") pair([&](auto v) { count(v, info.retrans); }, [&](auto v) { count(v, info.total_retrans); });
    else if (key == "unacked") u32(info.unacked);
    else if (key == "lost") u32(info.lost);
    else if (key == "bytes_acked") u64(info.bytes_acked);
    else if (key == "bytes_received") u64(info.bytes_received);
  }
  return found;
}

std::optional<std::vector<ProcessRef>> parse_ss_users(std::string_view text, size_t& consumed) {
  if (!starts_with(text, "users:((")) return std::nullopt;
  std::vector<ProcessRef> out;
  size_t i = 7;  // at the '(' of the first entry
  for (int entries = 0; entries < kMaxOwnerEntries; ++entries) {
    if (i + 2 > text.size() || text[i] != '(' || text[i + 1] != '"') return std::nullopt;
    const size_t name_start = i + 2;
    // The name ends at the first `",` followed by a pid (`pid=` or, in old ss, digits).
    size_t end = name_start;
    for (;;) {
      end = text.find("\",", end);
      if (end == std::string_view::npos) return std::nullopt;
      const std::string_view after = text.substr(end + 2);
      if (starts_with(after, "pid=") || (!after.empty() && after[0] >= '0' && after[0] <= '9')) break;
      ++end;
    }
    ProcessRef p;
    p.name = std::string(text.substr(name_start, end - name_start));
    i = end + 2;
    if (starts_with(text.substr(i), "pid=")) i += 4;
    size_t j = i;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
    const auto pid = parse_uint(text.substr(i, j - i), INT32_MAX);
    if (!pid) return std::nullopt;
    p.pid = static_cast<int>(*pid);
    i = j;
    if (i < text.size() && text[i] == ',') {
      ++i;
      if (starts_with(text.substr(i), "fd=")) i += 3;
      j = i;
      while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
      const auto fd = parse_uint(text.substr(i, j - i), INT32_MAX);
      if (!fd) return std::nullopt;
      p.fd = static_cast<int>(*fd);
      i = j;
    }
    if (i >= text.size() || text[i] != ')') return std::nullopt;
    ++i;
    out.push_back(std::move(p));
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    if (i < text.size() && text[i] == ')') {
      consumed = i + 1;
      return out;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

void parse_ss_text(std::string_view text, const SocketSink& sink, TextParseReport& report,
                   std::optional<TcpState> state_if_missing) {
  SsTextParser parser(sink, report, state_if_missing);
  bool go_on = true;
  // line() drops the '\r' itself: stripping here too would take two from "...\r\r".
  for_each_line(text, [&](size_t, std::string_view line) { return go_on = parser.line(line); }, false);
  if (go_on) parser.finish();
}

}  // namespace tcpkit
