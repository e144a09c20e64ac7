// The default view: one row per socket, streamed in the kernel's order (nothing is sorted, so
// nothing is kept: memory stays flat however many sockets there are).
#include <cstdio>

#include "common/cli_common.hpp"
#include "common/wording.hpp"
#include "text_format.hpp"
#include "views.hpp"

namespace tcpstate {

using namespace tcpkit;

namespace {

constexpr size_t kFlushAt = 1 << 18;
constexpr size_t kRowRoom = 4096;  // reserved past kFlushAt: the row that crosses it fits without a reallocation

// Column starts of the table, as in ss.
constexpr size_t kRecvQ = 11, kSendQ = 18, kLocal = 25, kPeer = 50, kTimer = 75;

class TableWriter {
 public:
  explicit TableWriter(const Options& o) : o_(o) {
    buf_.reserve(kFlushAt + kRowRoom);
    LineCells line{buf_.size()};
    buf_ += "State";
    pad_to(buf_, line, kRecvQ);
    buf_ += "Recv-Q";
    pad_to(buf_, line, kSendQ);
    buf_ += "Send-Q";
    pad_to(buf_, line, kLocal);
    buf_ += "Local Address:Port";
    pad_to(buf_, line, kPeer);
    buf_ += "Peer Address:Port";
    pad_to(buf_, line, kTimer);
    buf_ += "Timer";
    if (o_.processes || o_.source == Source::ss_text || o_.source == Source::netstat_text ||
        o_.source == Source::text_autodetect) {
      show_owners_ = true;
      buf_ += "  Process";
    }
    if (o_.tcp_info) buf_ += "  Info";
    buf_ += '\n';
  }
  ~TableWriter() { flush(); }

  void row(const SocketRecord& s) {
    const size_t start = buf_.size();
    LineCells line{start};
    buf_ += state_ss_name(s.state);
    pad_to(buf_, line, kRecvQ);
    append_uint(buf_, s.recv_q);
    pad_to(buf_, line, kSendQ);
    append_uint(buf_, s.send_q);
    pad_to(buf_, line, kLocal);
    append_named_endpoint(buf_, s.local, s.local_port, s.interface, s.local_host, s.local_service);
    pad_to(buf_, line, kPeer);
    append_named_endpoint(buf_, s.remote, s.remote_port, "", s.remote_host, s.remote_service);
    pad_to(buf_, line, kTimer);
    if (s.timer == TimerKind::none) buf_ += '-';
    else buf_ += timer_text(s);
    if (show_owners_) {
      buf_ += "  ";
      buf_ += owners_text(s.processes);
    }
    if (o_.tcp_info && s.info) {
      buf_ += "  ";
      buf_ += info_text(s);
    }
    make_terminal_safe(buf_, start, line);
    buf_ += '\n';
    if (buf_.size() >= kFlushAt) flush();
  }

  void flush() {
    std::fwrite(buf_.data(), 1, buf_.size(), stdout);
    buf_.clear();
  }
  void discard() { buf_.clear(); }

 private:
  const Options& o_;
  std::string buf_;
  bool show_owners_ = false;
};

}  // namespace

int run_list(const Options& o) {
  StateCounts counts;
  const bool listing = !o.check && o.output != Output::prometheus;
  std::optional<TableWriter> table;
  std::optional<JsonLinesWriter> json;
  std::optional<CsvWriter> csv;
  if (listing) {
    if (o.output == Output::table) table.emplace(o);
    if (o.output == Output::json) json.emplace(stdout, false);
    if (o.output == Output::csv) csv.emplace(stdout, socket_csv_columns(), false);
  }
  auto info = collect_sockets(o, StateSet::all(), false, [&](SocketRecord& s) {
    counts.add(s);
    if (table) table->row(s);
    else if (json) json->write(to_record(s));
    else if (csv) csv->write(to_csv_record(s));
    return !std::ferror(stdout);  // the reader went away (tcpstate | head): stop the dump
  }, {}, [&] {  // the input pauses (a pipe): show the rows so far
    if (table) table->flush();
    std::fflush(stdout);
  });
  if (!info) {
    if (table) table->discard();  // no header for input that was never read
    return fail_with(info.error());
  }
  if (table) table->flush();
  if (csv) csv->write_header();  // no socket still has the columns (once the input was read)
  std::fflush(stdout);
  PrometheusText prom;
  if (o.output == Output::prometheus) add_state_metrics(prom, counts);
  Record summary;
  summary["view"] = "list";
  summary["source"] = info->name;
  summary["sockets"] = counts.total();
  summary["states"] = states_record(counts);
  // Not after `| head` (quiet) or a full disk (not the user's interruption: exit 4 says why).
  if (cli::interrupted() && !cli::output_lost() && o.output == Output::table)
    cli::print_error("tcpstate", "interrupted after " + cli::count_text(counts.total(), "socket"));
  return finish_view(o, *info, counts, summary, &prom);
}

}  // namespace tcpstate
