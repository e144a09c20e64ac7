// tcpstate follow: every TCP state change of the namespace as it happens (eBPF), one line each,
// with the time the socket spent in the state it left, and the losses in a final summary.
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string_view>

#include "common/cli_common.hpp"
#include "tcpkit/probe/socket_lookup.hpp"
#include "tcpkit/sockets/state_follow.hpp"
#include "tcpkit/sockets/twin_children.hpp"
#include "follow_format.hpp"
#include "follow_outputs.hpp"
#include "views.hpp"

namespace tcpstate {

using namespace tcpkit;

namespace {

constexpr uint64_t kNsPerUs = 1000;
constexpr int kPollMs = 100;  // how often Ctrl-C, a gone reader and --duration are looked at
constexpr const char* kOwnNetns = "/proc/thread-self/ns/net";

// One change as shown: the kernel's, or one inferred with sock_diag (see TimeWaitWatch).
struct Shown {
  StateChange change;
  bool inferred = false;
  std::string inferred_from;  // what the inference saw, for the text and JSON
  std::optional<int64_t> time_wait_left_ms;
  // A CLOSE from FIN_WAIT1, FIN_WAIT2 or CLOSING that no timewait socket took over, with no
  // error: the kernel ended it with an RST of ours (close() with unread data, or SO_LINGER 0,
  // after shutdown()), not a graceful close (--life: aborted).
  bool aborted_closing = false;
  // How the connection ended is not known here (--life shows none for it, as for one still open
  // at the end): its FIN_WAIT2 timewait socket was not followed (more held than kMaxWatched), so
  // it has not ended; or the lookup of a timewait socket failed.
  bool life_unknown = false;
  // A child thrown away for its twin of one handshake (TwinChildren): no failed handshake.
  bool twin = false;
};

// The network namespace this thread is in (run() entered --netns before): its inode is what
// the BPF program compares each socket's namespace with.
Result<uint32_t> own_netns_inode() {
  struct stat st {};
  if (stat(kOwnNetns, &st) != 0) return fail_errno(std::string("stat ") + kOwnNetns, errno);
  return static_cast<uint32_t>(st.st_ino);
}

// The kernel never reports TIME_WAIT: at the end of a graceful close the full socket goes CLOSE
// and a timewait socket takes the 4-tuple over. sock_diag finds that socket: in TIME_WAIT, the
// connection went on into TIME_WAIT; in FIN_WAIT2 (an orphan still waiting for the peer's FIN),
// it is still FIN_WAIT2, and is looked at again each round until it turns TIME_WAIT or is gone.
constexpr int kDrainPasses = 8;  // reads of the ring at the end, each of everything in it then

class TimeWaitWatch {
 public:
  static constexpr size_t kMaxWatched = 4096;  // beyond: the kernel's CLOSE is shown as it is

  // Returns false when the change is held back (a FIN_WAIT2 timewait socket holds the tuple).
  bool on_change(Shown& s) {
    const auto& c = s.change;
    if (c.new_state != TcpState::close) return true;
    if (c.old_state != TcpState::fin_wait1 && c.old_state != TcpState::fin_wait2 && c.old_state != TcpState::closing)
      return true;
    const auto looked = find(c);
    if (!looked) {  // (found: out of file descriptors) no timewait socket is no news then
      ++lookup_failures_;
      s.inferred_from = lookup_failed_text(looked.error());
      s.life_unknown = true;
      return true;
    }
    const auto& found = *looked;
    if (found && found->state == TcpState::time_wait) {
      mark_time_wait(s, *found);
      return true;
    }
    if (found && found->state == TcpState::fin_wait2) {
      if (held_.size() < kMaxWatched) {
        // The connection stays FIN_WAIT2 from when it entered it (unknown for one older than us).
        const std::optional<uint64_t> entered =
            c.in_old_state_ns ? std::optional<uint64_t>(c.time_ns - *c.in_old_state_ns) : std::nullopt;
        held_.push_back({s, entered, std::nullopt, c.time_ns});
        return false;
      }
      // Found: past 4096 such, the CLOSE was shown bare, and --life said "closed" (FINs both ways).
      ++unfollowed_;
      s.life_unknown = true;
      s.inferred_from = "the kernel said CLOSE; a FIN_WAIT2 timewait socket holds the connection (the peer's FIN "
                        "not come), not followed: more than " + std::to_string(kMaxWatched) + " are held";
      return true;
    }
    // A graceful close leaves a timewait socket for 60 s (TIME_WAIT, or FIN_WAIT2 until
    // tcp_fin_timeout); none at all, and no error (a timeout or an RST in would have set one):
    // our RST ended it. (Also when tcp_max_tw_buckets left no room for one: TcpExtTCPTimeWaitOverflow;
    // and, found in a storm where the lookup came late, a peer's RST that ended the TIME_WAIT.)
    if (!found && c.error == 0) {
      s.aborted_closing = true;
      s.inferred_from = "no timewait socket took the connection over: an RST of ours ended it (unread data or "
                        "SO_LINGER 0), tcp_max_tw_buckets left no room for one, or an RST of the peer's ended "
                        "its TIME_WAIT before the lookup (tcp_rfc1337 0)";
    }
    return true;
  }

  uint64_t unfollowed() const { return unfollowed_; }
  uint64_t lookup_failures() const { return lookup_failures_; }

  // --life: the connection the change just held back ended (its life is shown with it).
  void hold_life(ConnectionLife life) { held_.back().life = std::move(life); }

  // Looks at the held ones again; calls show for each that turned TIME_WAIT or went away.
  // At the end (final), the rest are shown as the kernel said, with why.
  void recheck(bool final, const std::function<void(const Shown&, std::optional<ConnectionLife>&)>& show) {
    std::vector<Held> still;
    for (auto& h : held_) {
      const uint64_t asked = monotonic_ns();
      const auto looked = find(h.shown.change);
      if (!looked) {
        if (!final) {  // asked again at the next round
          still.push_back(std::move(h));
          continue;
        }
        ++lookup_failures_;  // one per close shown unsettled, as the summary says
        Shown s = h.shown;
        s.inferred_from = lookup_failed_text(looked.error());
        h.life.reset();  // how it ended is not known
        show(s, h.life);
        continue;
      }
      const auto& found = *looked;
      if (found && found->state == TcpState::fin_wait2 && !final) {
        h.fin_wait2_seen_ns = asked;
        still.push_back(std::move(h));
        continue;
      }
      Shown s = h.shown;
      if (found && found->state == TcpState::fin_wait2) {
        s.inferred_from = "the kernel said CLOSE; a FIN_WAIT2 timewait socket still held the connection at the end";
        // --life: still in FIN_WAIT2, so it has not ended; like any connection open at the end,
        // it is not shown (it was shown as closed microseconds after entering FIN_WAIT2).
        h.life.reset();
      } else {
        uint64_t at = monotonic_ns();
        s.inferred = true;
        if (found && found->state == TcpState::time_wait) {
          // Dated by its timer, started by the peer's FIN: not when this lookup came (up to
          // kPollMs later).
          if (found->timer_ms) at = time_wait_entered_ns(at, *found->timer_ms, h.fin_wait2_seen_ns);
          mark_time_wait(s, *found);
          s.inferred_from += " (its 60 s timer dates the FIN that began it)";
        } else {
          s.inferred_from = "the FIN_WAIT2 timewait socket is gone (FIN_WAIT2 timeout or RST), seen within " +
                            std::to_string(kPollMs) + " ms";
        }
        s.change.time_ns = at;
        s.change.in_old_state_ns = h.entered_ns ? std::optional<uint64_t>(at - *h.entered_ns) : std::nullopt;
      }
      if (h.life) settle_close(*h.life, s.change);
      show(s, h.life);
    }
    held_ = std::move(still);
  }

 private:
  struct Held {
    Shown shown;
    std::optional<uint64_t> entered_ns;  // into FIN_WAIT2 (none: before the follower started)
    std::optional<ConnectionLife> life;
    uint64_t fin_wait2_seen_ns = 0;  // when it was last seen still in FIN_WAIT2  // --life: the connection, ended at the kernel's CLOSE
  };

  static Result<std::optional<SocketRecord>> find(const StateChange& c) {
    return lookup_tcp_socket(FourTuple{c.local, c.remote, c.local_port, c.remote_port});
  }

  static std::string lookup_failed_text(const Error& e) {
    return "the kernel said CLOSE; the lookup of a timewait socket failed (" + e.message +
           "): whether TIME_WAIT followed is not known";
  }

  static void mark_time_wait(Shown& s, const SocketRecord& tw) {
    s.inferred = true;
    s.time_wait_left_ms = tw.timer_ms;
    s.change.new_state = TcpState::time_wait;
    s.inferred_from = "the kernel said CLOSE; sock_diag finds a TIME_WAIT socket on the 4-tuple";
  }

  std::vector<Held> held_;
  uint64_t unfollowed_ = 0, lookup_failures_ = 0;
};

// The list view's filter, applied to two ends in any of these states: a change passes when its
// old or its new state does, a finished connection when any state of its path does.
bool wanted_in(const SocketFilter& filter, const IpAddress& local, uint16_t local_port, const IpAddress& remote,
               uint16_t remote_port, std::initializer_list<TcpState> states) {
  SocketRecord r;
  r.local = local;
  r.remote = remote;
  r.local_port = local_port;
  r.remote_port = remote_port;
  return std::any_of(states.begin(), states.end(), [&](TcpState state) {
    r.state = state;
    return filter.matches(r);
  });
}

bool wanted(const SocketFilter& filter, const StateChange& c) {
  return wanted_in(filter, c.local, c.local_port, c.remote, c.remote_port, {c.new_state, c.old_state});
}

bool wanted_life(const SocketFilter& filter, const ConnectionLife& l) {
  return std::any_of(l.path.begin(), l.path.end(), [&](const LifeStep& step) {
    return wanted_in(filter, l.local, l.local_port, l.remote, l.remote_port, {step.state});
  });
}

constexpr const char* kTwinText =
    "a twin: a second child of one handshake, thrown away by the kernel; no failed handshake";

void print_text(const Shown& s, const WallClock& clock) {
  const auto& c = s.change;
  std::string line = clock.text(c.time_ns) + "  " + endpoints_text(c.local, c.local_port, c.remote, c.remote_port) + "  " +
                     std::string(state_name(c.old_state)) + " -> " + std::string(state_name(c.new_state)) + "  " +
                     (c.in_old_state_ns ? format_duration_ms(double(*c.in_old_state_ns) / 1e6) : "?");
  if (s.inferred) {
    line += "  inferred";
    if (s.time_wait_left_ms) line += ", " + format_fixed(double(*s.time_wait_left_ms) / 1000, 1) + " s left";
  }
  if (!s.inferred_from.empty()) line += "  (" + s.inferred_from + ")";
  if (s.twin) line += "  (" + std::string(kTwinText) + ")";
  line += '\n';
  // Flushed once per batch of changes (run_follow), not per line.
  std::fwrite(line.data(), 1, line.size(), stdout);
}

void print_json(const Shown& s, const WallClock& clock) {
  const auto& c = s.change;
  std::string line = "{\"type\":\"transition\",\"time_us\":";
  append_number(line, clock.unix_ns(c.time_ns) / int64_t(kNsPerUs));
  append_endpoints_json(line, c.local, c.local_port, c.remote, c.remote_port);
  line += ",\"old_state\":";
  append_json_string(line, state_name(c.old_state));
  line += ",\"new_state\":";
  append_json_string(line, state_name(c.new_state));
  if (c.in_old_state_ns) {
    line += ",\"in_old_state_us\":";
    append_number(line, *c.in_old_state_ns / kNsPerUs);
  }
  line += ",\"socket\":";
  append_number(line, c.socket);
  line += s.inferred ? ",\"inferred\":true" : ",\"inferred\":false";
  if (!s.inferred_from.empty()) {
    line += ",\"inferred_from\":";
    append_json_string(line, s.inferred_from);
  }
  if (s.time_wait_left_ms) {
    line += ",\"time_wait_left_ms\":";
    append_number(line, *s.time_wait_left_ms);
  }
  if (s.twin) line += ",\"twin\":true";
  line += "}\n";
  // Flushed once per batch of changes (run_follow), not per line.
  std::fwrite(line.data(), 1, line.size(), stdout);
}

struct Totals {
  uint64_t seen = 0;   // changes the kernel delivered for the namespace
  uint64_t shown = 0;  // after the filters
  uint64_t inferred = 0;  // shown changes inferred with sock_diag
  uint64_t twins = 0;     // children thrown away for their twins (not connections, nor failed)
  double seconds = 0;
};

void print_summary(const Options& o, const Totals& t, const FollowLosses& l, const TimeWaitWatch& tw,
                   const std::string& attachment) {
  const bool lost = l.ring_drops > 0 || l.recursion_misses > 0 || l.path_gaps > 0;
  // Changes shown as the kernel said because TIME_WAIT could not be looked for or followed.
  const bool unsettled = tw.unfollowed() > 0 || tw.lookup_failures() > 0;
  const bool degraded = lost || unsettled;
  if (o.output == Output::json) {
    Record r;
    r["type"] = "summary";
    r["view"] = "follow";
    r["attachment"] = attachment;
    r[o.follow_life ? "connections" : "transitions"] = t.shown;
    r["seen"] = t.seen;
    r["inferred"] = t.inferred;
    r["twins"] = t.twins;
    r["duration_us"] = static_cast<int64_t>(t.seconds * 1e6);
    r["ring_drops"] = l.ring_drops;
    r["recursion_misses"] = l.recursion_misses;
    r["nested_taken"] = l.rescued;
    r["path_gaps"] = l.path_gaps;
    r["fin_wait2_unfollowed"] = tw.unfollowed();
    r["lookup_failures"] = tw.lookup_failures();
    r["degraded"] = degraded;
    if (cli::interrupted()) r["interrupted"] = true;
    write_json(r);
  } else if (o.output != Output::prometheus) {  // there the losses are counters of their own
    write_stdout(std::string("follow: ") + std::to_string(t.shown) + (o.follow_life ? " connections" : " transitions") +
                 " shown (" + std::to_string(t.seen) + " seen, " + std::to_string(t.inferred) + " inferred" +
                 (t.twins ? ", " + std::to_string(t.twins) + " twins" : "") + ") in " + format_fixed(t.seconds, 1) + " s, " +
                 std::to_string(l.ring_drops) + " ring-buffer drops, " + std::to_string(l.recursion_misses) +
                 " recursion misses, " + std::to_string(l.path_gaps) + " path gaps (" + attachment + ")" +
                 (lost ? "  DEGRADED: changes were lost" : unsettled ? "  DEGRADED: some closes left unsettled" : "") +
                 "\n");
  }
  if (lost)
    cli::print_warning("tcpstate", "follow lost changes: " + std::to_string(l.ring_drops) + " ring-buffer drops, " +
                                       std::to_string(l.recursion_misses) + " recursion misses, " +
                                       std::to_string(l.path_gaps) +
                                       " path gaps (changes the kernel never reported, or lost as counted)");
  if (tw.unfollowed())
    cli::print_warning("tcpstate", std::to_string(tw.unfollowed()) + " closes in FIN_WAIT2 were not followed to their end "
                                       "(more than " + std::to_string(TimeWaitWatch::kMaxWatched) +
                                       " held at once): shown as the kernel said, and not as ended connections");
  if (tw.lookup_failures())
    cli::print_warning("tcpstate", std::to_string(tw.lookup_failures()) +
                                       " lookups of a timewait socket failed: those closes are shown as the kernel "
                                       "said, TIME_WAIT or not unknown");
}

}  // namespace

int run_follow(const Options& o) {
  std::string dot;
  if (!o.diagram.empty()) {
    auto found = prepare_diagram(o.diagram);
    if (!found) return fail_with(found.error());
    dot = *found;
  }
  auto inode = own_netns_inode();
  if (!inode) return fail_with(inode.error());
  auto follower = start_state_follower(*inode);
  if (!follower) return fail_with(cli::with_bpf_hint(follower.error(), "tcpstate"));
  // On stderr, so stdout holds only the changes: a script (or a test) knows from it that the
  // program is attached and nothing from now on is missed.
  const std::string where = o.netns.empty() ? "this network namespace" : "network namespace " + o.netns;
  cli::print_warning("tcpstate", "following TCP state changes in " + where + " (" + (*follower)->attachment() +
                                     "); request sockets (SYN_RECV before accept) are not seen: see syn-flood");
  const WallClock clock;
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  const bool json = o.output == Output::json;
  Totals totals;
  TimeWaitWatch time_wait;
  LifeTracker lives;
  TwinChildren twins;
  EdgeReport edges;
  // -c N: N lines (changes, or connections with --life); with --summary, N changes counted.
  auto full = [&] { return o.follow_count && totals.shown >= uint64_t(o.follow_count); };
  // Each change once settled (TIME_WAIT inferred or not), with the life it ended (--life).
  // The counts per edge feed only --summary and --diagram: a plain follow in a storm skips them.
  const bool count_edges = o.summary || !o.diagram.empty();
  auto show = [&](const Shown& s, const std::optional<ConnectionLife>& life) {
    const bool passes = wanted(o.filter, s.change);
    if (passes && s.twin) ++totals.twins;
    if (passes && count_edges) {
      if (s.twin) edges.add_twin();  // counted apart: no failed handshake
      else edges.add(s.change);
    }
    if (full()) return;
    if (o.follow_life) {
      if (s.twin) return;  // not a connection
      // A finished connection is shown when its endpoints and any state of its path pass the filter.
      if (!life || !wanted_life(o.filter, *life)) return;
      if (life->time_wait_inferred) ++totals.inferred;
      edges.add_life(*life);
      ++totals.shown;
      if (!o.summary) print_life(*life, clock, json);
      return;
    }
    if (!passes) return;
    ++totals.shown;
    if (s.inferred) ++totals.inferred;
    if (o.summary) return;
    if (json) print_json(s, clock);
    else print_text(s, clock);
  };
  auto on_change = [&](const StateChange& c) {
    ++totals.seen;
    Shown s{c};
    s.twin = twins.on_change(c);
    const bool settled = time_wait.on_change(s);
    // Lives take the kernel's changes in its order: the socket's address may be a new socket's
    // before a held change settles. A life ended at a held CLOSE waits with it.
    std::optional<ConnectionLife> life;
    if (o.follow_life) life = lives.on_change(settled ? s.change : c);
    if (life && s.aborted_closing) life->end = LifeEnd::aborted;
    if (s.life_unknown) life.reset();
    if (settled) show(s, life);
    else if (life) time_wait.hold_life(std::move(*life));
  };
  auto recheck = [&](bool final) {
    time_wait.recheck(final, [&](const Shown& s, std::optional<ConnectionLife>& life) { show(s, life); });
  };
  // --summary --interval: the counts every interval (the poll's 100 ms is their precision).
  const auto interval = o.follow_interval.value_or(std::chrono::microseconds(0));
  auto next_print = start + interval;
  while (!cli::interrupted()) {
    if (full()) break;
    int wait_ms = kPollMs;
    if (o.follow_duration) {
      const auto left = *o.follow_duration - std::chrono::duration_cast<std::chrono::microseconds>(
                                                 std::chrono::steady_clock::now() - start);
      if (left.count() <= 0) break;
      wait_ms = std::min<int>(kPollMs, int(left.count() / 1000) + 1);
    }
    auto r = (*follower)->poll(wait_ms, on_change);
    if (!r) return fail_with(r.error());
    recheck(false);
    if (interval.count() > 0 && std::chrono::steady_clock::now() >= next_print) {
      edges.print(o, clock, seconds(), (*follower)->losses());
      while (next_print <= std::chrono::steady_clock::now()) next_print += interval;
    }
    // One flush per batch: a pipe sees each batch at once, and a storm of changes is not one
    // write() per line.
    std::fflush(stdout);
  }
  // Ctrl-C or --duration: the changes already in the ring happened before the stop; show them
  // (a consumer that lags a storm holds many). Bounded: new changes keep coming meanwhile.
  if (!cli::output_gone())
    for (int pass = 0; pass < kDrainPasses; ++pass) {
      auto r = (*follower)->drain(on_change);
      if (!r) return fail_with(r.error());
      if (*r == 0) break;
    }
  if (!cli::output_gone()) recheck(true);
  totals.seconds = seconds();
  const FollowLosses losses = (*follower)->losses();
  if (!cli::output_gone() && o.summary) edges.print(o, clock, totals.seconds, losses);
  if (!cli::output_gone()) print_summary(o, totals, losses, time_wait, (*follower)->attachment());
  std::fflush(stdout);
  if (!dot.empty()) {
    const std::string title = "tcpstate follow" + (o.netns.empty() ? std::string() : " --netns " + o.netns) + ": " +
                              std::to_string(edges.edges().total()) + " changes in " + format_fixed(totals.seconds, 1) + " s";
    if (auto w = write_diagram(dot, o.diagram, edges.edges(), title); !w) return fail_with(w.error());
  }
  return cli::kExitPositive;
}

}  // namespace tcpstate
