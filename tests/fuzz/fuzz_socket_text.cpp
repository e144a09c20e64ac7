// The saved-text socket parsers on arbitrary text; the first byte picks the parser:
// 0 ss, 1 ss without a State column (state given), 2 netstat, 3 /proc/net/tcp, 4 /proc/net/tcp6,
// 5 the format detector. Beyond "no crash": the report's counts match what reached the sink,
// warnings name lines that exist, reading line by line gives what reading at once gives, every
// record turns into JSON, and a sink that says stop is obeyed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "tcpkit/sockets/netstat_text.hpp"
#include "tcpkit/sockets/proc_net.hpp"
#include "tcpkit/sockets/ss_text.hpp"
#include "tcpkit/util/output.hpp"

using namespace tcpkit;

namespace {

size_t count_lines(std::string_view text) {
  size_t n = 0;
  for (char c : text) n += c == '\n';
  return n + (!text.empty() && text.back() != '\n');
}

void check_report(const TextParseReport& r, size_t sunk, std::string_view text) {
  FUZZ_CHECK(r.sockets == sunk);
  FUZZ_CHECK(r.lines <= count_lines(text) + 1);
  FUZZ_CHECK(r.warnings.size() <= r.malformed);
  for (const auto& w : r.warnings) FUZZ_CHECK(w.line >= 1 && w.line <= r.lines && !w.message.empty());
}

// Only the first parse of an input turns its records into JSON: the re-parses check counts, and
// serialising every record three times made this target too slow to reach 10 M executions.
SocketSink counting(size_t& n, size_t stop_after = SIZE_MAX, bool json = false) {
  return [&n, stop_after, json](SocketRecord& s) {
    if (json) (void)to_record(s).dump(-1, ' ', false, Record::error_handler_t::replace);
    return ++n < stop_after;
  };
}

template <typename Parser, typename... Args>
size_t by_lines(std::string_view text, Args&&... args) {
  size_t n = 0;
  TextParseReport r;
  Parser parser(counting(n), r, std::forward<Args>(args)...);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (!parser.line(text.substr(start, end - start))) break;
    start = end + 1;
  }
  if constexpr (requires { parser.finish(); }) parser.finish();
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0] % 6;
  const std::string copy(reinterpret_cast<const char*>(data + 1), size - 1);  // exact size, for ASan
  const std::string_view text = copy;
  size_t n = 0;
  TextParseReport report;
  switch (selector) {
    case 0:
    case 1: {
      const auto state = selector == 1 ? std::optional<TcpState>(TcpState::established) : std::nullopt;
      parse_ss_text(text, counting(n, SIZE_MAX, true), report, state);
      check_report(report, n, text);
      FUZZ_CHECK(by_lines<SsTextParser>(text, state) == n);
      if (n > 0) {
        size_t stopped = 0;
        TextParseReport r2;
        parse_ss_text(text, counting(stopped, 1), r2, state);
        FUZZ_CHECK(stopped == 1);
      }
      break;
    }
    case 2: {
      parse_netstat_text(text, counting(n, SIZE_MAX, true), report);
      check_report(report, n, text);
      FUZZ_CHECK(by_lines<NetstatTextParser>(text) == n);
      if (n > 0) {
        size_t stopped = 0;
        TextParseReport r2;
        parse_netstat_text(text, counting(stopped, 1), r2);
        FUZZ_CHECK(stopped == 1);
      }
      break;
    }
    case 3:
    case 4: {
      const bool v6 = selector == 4;
      parse_proc_net_text(text, v6, counting(n, SIZE_MAX, true), report);
      check_report(report, n, text);
      if (auto one = parse_proc_net_line(text, v6)) FUZZ_CHECK(one->family() == (v6 ? Family::v6 : Family::v4));
      break;
    }
    default: {
      (void)detect_socket_text_format(text);
      (void)detect_socket_text_line(text);
      size_t consumed = 0;
      if (parse_ss_users(text, consumed)) FUZZ_CHECK(consumed <= text.size());
      if (auto ms = parse_ss_duration_ms(text)) FUZZ_CHECK(*ms >= 0);
      TcpInfoSummary info;
      (void)parse_ss_info_fields(text, info);
      break;
    }
  }
  return 0;
}
