#pragma once
// TCP options as the ordered list they are on the wire: {kind, bytes} in header order, with
// NOPs, unknown kinds and malformed tails kept, so that what a middlebox added, removed,
// reordered or broke can be shown. Stored inline (a header holds at most 40 option bytes), so
// decoding a reply allocates nothing.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tcpkit/util/error.hpp"

namespace tcpkit {

namespace tcp_option {
constexpr uint8_t eol = 0, nop = 1, mss = 2, window_scale = 3, sack_permitted = 4, sack = 5, timestamps = 8;
}

// One option as it sits in the header. data: the bytes after kind and length (none for EOL and
// NOP). A malformed option has an impossible length byte or runs past the header: data then
// holds every byte after its kind, and it ends the list.
struct TcpOption {
  uint8_t kind = 0;
  std::span<const uint8_t> data;
  bool malformed = false;
};

// How much an option text says: full is tcpdump's spelling with every entry in order ("mss
// 1460,sackOK,TS val 1 ecr 0,nop,wscale 7"); brief leaves out NOP/EOL and the timestamp values
// ("mss 1460,sackOK,TS,wscale 7").
enum class OptionText { full, brief };

class TcpOptions {
 public:
  static constexpr size_t kMaxBytes = 40;  // a 60-byte TCP header less its 20 fixed bytes

  // Builders: each appends one option in the order called. Past 40 bytes nothing more is kept,
  // and needed_bytes() says how many the list asked for (craft_segment refuses it).
  TcpOptions& add(uint8_t kind, std::span<const uint8_t> data);
  TcpOptions& add_nop();
  TcpOptions& add_eol();
  TcpOptions& add_mss(uint16_t mss);
  TcpOptions& add_window_scale(uint8_t shift);
  TcpOptions& add_sack_permitted();
  TcpOptions& add_timestamps(uint32_t tsval, uint32_t tsecr);
  TcpOptions& add_sack(std::span<const std::pair<uint32_t, uint32_t>> blocks);

  // Every option up to and including an end-of-list (what follows it is padding). Never reads
  // past len; a length byte that cannot be right ends the list with a malformed entry.
  static TcpOptions decode(const uint8_t* data, size_t len);
  // The header's option bytes were cut short (by a capture's snap length): marks the list malformed.
  void mark_cut_short() { cut_short_ = true; }

  size_t count() const { return count_; }
  TcpOption at(size_t i) const;
  // The options' bytes in order, without the padding a header adds.
  std::span<const uint8_t> bytes() const { return {bytes_.data(), size_}; }
  size_t needed_bytes() const { return needed_; }
  bool malformed() const;
  // No option but padding (NOP, EOL).
  bool empty() const;

  // The well-formed value of a kind (the last one, as Linux reads a list that repeats it).
  std::optional<uint16_t> mss() const;
  std::optional<uint8_t> window_scale() const;
  bool sack_permitted() const;
  std::optional<std::pair<uint32_t, uint32_t>> timestamps() const;  // TSval, TSecr
  std::vector<std::pair<uint32_t, uint32_t>> sack_blocks() const;   // of every SACK option
  // Rewrites the values of every well-formed timestamp option; false when there is none.
  bool set_timestamps(uint32_t tsval, uint32_t tsecr);

  // The one option formatter ("" when there are none). With sack_base (the ISN of the side the
  // SACK blocks number), the blocks are written relative to it, as tcpdump does beside relative
  // seq and ack.
  std::string to_string(OptionText style = OptionText::full, std::optional<uint32_t> sack_base = {}) const;

  bool operator==(const TcpOptions& other) const;

 private:
  struct Entry {
    uint8_t offset = 0, size = 0;  // of the whole option in bytes_
    bool malformed = false;
  };
  void append(std::initializer_list<uint8_t> head, std::span<const uint8_t> data);
  const Entry* last_of(uint8_t kind, size_t data_size) const;

  std::array<uint8_t, kMaxBytes> bytes_{};
  std::array<Entry, kMaxBytes> entries_{};
  uint8_t size_ = 0, count_ = 0;
  size_t needed_ = 0;
  bool cut_short_ = false;
};

// A list of options as a user writes it, in order: "linux" (linux_layout()), "none", or
// comma-separated mss[=N] (1460), sack, ts[=TSVAL] (1), ws[=SHIFT] (7, at most 14), nop, eol,
// e.g. "mss=1380,nop,ws=8,sack,ts" (Windows' order). Longer than 40 bytes or a word not known:
// bad_input, with the word named.
Result<TcpOptions> parse_option_list(std::string_view text);

// Linux's SYN options in tcp_options_write's order: MSS, SACK permitted, timestamps, NOP,
// window scale (20 bytes).
TcpOptions linux_layout(uint16_t mss = 1460, uint32_t tsval = 1, uint8_t window_scale = 7);
// What Linux puts on every later segment of a connection that negotiated timestamps:
// NOP, NOP, timestamps (RFC 7323 §3.2, appendix A's layout).
TcpOptions timestamp_echo(uint32_t tsval, uint32_t tsecr);

// One difference between the options sent and the options seen, in the sent list's order, the
// added ones last. The lists are aligned by kind, keeping as many in order as possible.
struct OptionChange {
  enum class What { removed, added, changed, moved };
  What what = What::changed;
  uint8_t kind = 0;
  std::string before, after;  // each side's text of the option ("" when absent)
  // removed: its bytes were overwritten with as many NOPs (nftables' `reset tcp option`, some
  // firewalls), which are then not listed as added.
  bool nops_in_place = false;
};
std::vector<OptionChange> diff_options(const TcpOptions& sent, const TcpOptions& seen);
// "sackOK removed", "sackOK removed (NOPs in its place)", "nop added", "mss 1460 -> mss 1380",
// "wscale 7 moved".
std::string to_string(const OptionChange& change);

}  // namespace tcpkit
