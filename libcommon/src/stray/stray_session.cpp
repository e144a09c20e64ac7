#include "tcpkit/stray/stray_session.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "tcpkit/io/wake_event.hpp"
#include "tcpkit/stray/stray_connection.hpp"
#include "tcpkit/stray/stray_stateless.hpp"
#include "tcpkit/util/output.hpp"

namespace tcpkit {

namespace {

// Tries of a segment whose answer is an RST (the first two included) before its silence counts:
// at 20 % loss each way a try goes unanswered 36 % of the time, four in a row 1.7 %.
constexpr int kSilenceTries = 4;
// Control segments sent to a port from which no case drew anything, before the port is taken
// for one where everything is dropped.
constexpr int kControlTries = 3;
// After the control tries drew nothing within -W: one more, waiting this long (at least), in case
// the round trip is longer than -W (seen: -W 0.3 s on a path of 400 ms, blamed on a firewall).
constexpr auto kLateControlWait = std::chrono::seconds(3);

// Connections that must show an outcome a lost segment can fake before it counts (an RST lost
// on all three: 1.6 % of the time at 25 % loss), and the most set up for them (on a lossy path
// some setups fail, and some follow-ups draw nothing).
constexpr int kConnectionTries = 3;
constexpr int kConnectionAttempts = 6;
// Connections set up for one case whose handshakes draw nothing at all, when the peer answered
// an earlier handshake of the run: each waits StrayTarget::handshake_timeout (3 SYNs), so three
// fail together about 1 time in 1,700 at 25 % loss (of SYNs and SYN/ACKs alike).
constexpr int kSetupAttempts = 3;
// What a primed connection sends before its case (the half-open control): an empty line, which
// line protocols such as HTTP (RFC 9112 2.2), SMTP and FTP ignore or answer with an error.
constexpr std::string_view kPrimeBytes = "\r\n";

using Outcomes = std::vector<StrayOutcome>;

bool stateless(StrayGroup group) { return group == StrayGroup::closed || group == StrayGroup::listen; }

// The case whose segment a closed or listening port answers with an RST: the control that shows
// segments reach the peer's stack there.
StrayCase control_case(StrayGroup group) {
  return group == StrayGroup::listen ? StrayCase::listen_ack : StrayCase::closed_ack;
}

bool wants_reset(StrayCase id) { return stray_case_info(id).answer == StrayAnswer::reset; }

// What a lost segment can fake in a connection case, said of the connection, or nothing when the
// outcome is not of that kind: an RST the connection survived, a follow-up that drew nothing, a
// kept TIME_WAIT (live-rst-exact and tw-rst tell that their RST arrived only by its effect);
// silence, twice, where an ACK was due that no stack rate-limits.
std::optional<std::string_view> fakeable_by_loss(const StrayOutcome& o) {
  if (o.run.seen.setup_problem) return std::nullopt;
  const auto& info = stray_case_info(o.run.id);
  constexpr std::string_view kNoEffect = "the RST showed no effect";
  if (o.run.id == StrayCase::live_rst_exact && (o.judgement.rst_survived || !stray_drew_answer(o.run.seen)))
    return kNoEffect;
  if (o.run.id == StrayCase::tw_rst && o.judgement.verdict == StrayVerdict::conformant) return kNoEffect;
  if (!stateless(info.group) && info.answer == StrayAnswer::ack && !info.rate_limited_answer &&
      o.judgement.verdict == StrayVerdict::deviation && !stray_drew_answer(o.run.seen))
    return "nothing came back";
  return std::nullopt;
}

class Session {
 public:
  Session(const StrayTarget& target, RawSender& sender, int cancel_fd)
      : target_(target), sender_(sender), cancel_fd_(cancel_fd) {}
  Result<void> run(std::span<const StrayCase> cases, const StrayGroupDone& done);

 private:
  bool cancelled() const { return cancel_requested(cancel_fd_); }
  // Whether the segment drew an answer from the group's port: at the listening port, with the
  // listener's TTL (its SYN/ACK's), so that a router answering in its name proves nothing.
  bool answered_at_port(const StrayObservation& seen, StrayGroup group) const {
    return stray_drew_answer_with_ttl(seen, group == StrayGroup::listen ? listener_ttl_ : 0);
  }
  void control_ttl(Outcomes& outcomes);
  Result<StrayRun> run_case(StrayCase id);
  Result<StrayOutcome> run_and_judge(StrayCase id);
  Result<void> confirm_on_connections(StrayOutcome& o);
  Result<void> control_half_open(StrayOutcome& o);
  Result<void> settle(Outcomes& group);
  Result<bool> port_answers(StrayGroup group, const Outcomes& outcomes);
  Result<std::string> late_control(StrayGroup group);
  Result<void> confirm_silence(StrayGroup group, Outcomes& outcomes);
  Result<void> confirm_one(StrayOutcome& o, StrayCase control);
  template <class Send>
  Result<bool> answers_within_tries(Send send, StrayGroup group);
  Result<bool> twin_answers(StrayCase twin);
  Result<bool> fin_ack_answers();
  Result<void> control_twins(Outcomes& outcomes);
  Result<void> control_reach(Outcomes& outcomes);
  Result<void> control_fin_reach(Outcomes& outcomes);

  StrayTarget target_;  // a copy: the handshake wait shrinks once a handshake found nobody
  RawSender& sender_;
  int cancel_fd_;
  // Each checked once, before the first case of its group: a listen port that does not listen,
  // a closed port that does.
  std::optional<std::optional<std::string>> not_listening_, not_closed_;
  bool loss_seen_ = false;  // the run so far saw the path lose packets
  bool peer_heard_ = false;  // a connection case's handshake drew an answer: the peer is there
  std::optional<StrayJudgement> live_rst_exact_;  // tw-rst's RST control, when the run has it
  std::map<StrayCase, bool> closed_answered_;  // closed-port cases run so far: drew an answer
  std::optional<bool> fin_ack_answered_;  // the listener's same-port control, once run
  uint8_t synack_ttl_ = 0;  // of the listener's SYN/ACK to the listening check (0: not seen)
  uint8_t listener_ttl_ = 0;  // the listen group's reference: synack_ttl_, else listen-ack's reset's
  std::string_view listener_ttl_whose_;  // where listener_ttl_ was seen, for the reasons
  std::string drops_;  // what showed segments without a connection dropped before the stack (apply_drop_control)
};

// Runs one case; a closed- or listen-port case whose port is not usable gets the reason instead.
Result<StrayRun> Session::run_case(StrayCase id) {
  const auto group = stray_case_info(id).group;
  if (!stateless(group)) {
    for (int attempt = 1;; ++attempt) {
      auto run = run_connection_case(id, target_, sender_, cancel_fd_);
      if (!run) return run;
      const bool heard = std::any_of(run->segments.begin(), run->segments.end(),
                                     [](const StraySegment& s) { return !s.outbound; });
      peer_heard_ = peer_heard_ || heard;
      if (!run->seen.setup_problem || heard) return run;
      // Nothing at all came back to a handshake. From a peer that answered an earlier one, its
      // SYNs (or the ARP or neighbour discovery before them) were lost: "No route to host" at
      // 25 % loss. That case gets a fresh connection, up to kSetupAttempts.
      if (peer_heard_) {
        loss_seen_ = true;
        if (attempt < kSetupAttempts && !cancelled()) continue;
        return run;
      }
      // From a host that has never answered, the next handshakes wait -W only, so that a host
      // that is not there costs -W a case, not seconds.
      target_.handshake_timeout = {};
      return run;
    }
  }
  auto& not_usable = group == StrayGroup::listen ? not_listening_ : not_closed_;
  if (!not_usable) {
    auto check = group == StrayGroup::listen ? check_listening(target_, cancel_fd_, &synack_ttl_)
                                             : check_closed(target_, cancel_fd_);
    if (!check) return tl::unexpected(check.error());
    not_usable = *check;
  }
  if (!*not_usable) return run_stateless_case(id, target_, sender_, cancel_fd_);
  StrayRun result;
  result.id = id;
  result.seen.setup_problem = **not_usable;
  return result;
}

Result<StrayOutcome> Session::run_and_judge(StrayCase id) {
  auto result = run_case(id);
  if (!result) return tl::unexpected(result.error());
  if (wants_reset(id) && !result->seen.setup_problem && result->seen.answers.empty() && !cancelled()) {
    auto again = run_case(id);
    if (!again) return tl::unexpected(again.error());
    if (!again->seen.answers.empty()) {
      auto judgement = later_try(judge_stray_case(id, again->probe, again->seen));
      return StrayOutcome{std::move(*again), std::move(judgement), true};
    }
  }
  if (cancelled()) result->seen.setup_problem = "interrupted before the case finished";
  auto judgement = judge_stray_case(id, result->probe, result->seen);
  const bool loss = stray_saw_loss(*result);
  StrayOutcome outcome{std::move(*result), std::move(judgement), loss};
  if (auto r = confirm_on_connections(outcome); !r) return tl::unexpected(r.error());
  if (auto r = control_half_open(outcome); !r) return tl::unexpected(r.error());
  if (id == StrayCase::live_rst_exact) live_rst_exact_ = outcome.judgement;
  if (id == StrayCase::tw_rst)
    outcome.judgement = apply_rst_control(std::move(outcome.judgement), live_rst_exact_ ? &*live_rst_exact_ : nullptr);
  return outcome;
}

// A connection case whose outcome a lost segment can fake runs on fresh connections, up to
// kConnectionAttempts, until kConnectionTries have shown it: one that shows otherwise decides.
Result<void> Session::confirm_on_connections(StrayOutcome& o) {
  const auto what = fakeable_by_loss(o);
  if (!what) return {};
  // A connection counts when it shows the same; an inconclusive one (a follow-up that drew
  // nothing) shows neither way.
  auto counts = [](const StrayOutcome& x) { return x.judgement.verdict != StrayVerdict::inconclusive; };
  std::optional<StrayOutcome> first_same;
  int same = 0, ran = 1;
  if (counts(o)) {
    first_same = o;
    same = 1;
  }
  for (int attempt = 1; same < kConnectionTries && attempt < kConnectionAttempts && !cancelled(); ++attempt) {
    auto again = run_case(o.run.id);
    if (!again) return tl::unexpected(again.error());
    if (cancelled() || again->seen.setup_problem) continue;
    StrayOutcome next{std::move(*again), {}, false};
    next.judgement = judge_stray_case(next.run.id, next.run.probe, next.run.seen);
    ++ran;
    if (!fakeable_by_loss(next)) {
      if (next.judgement.verdict == StrayVerdict::inconclusive) continue;  // shows neither
      loss_seen_ = true;
      next.judgement = judged_on_later_connection(std::move(next.judgement), ran - 1, *what);
      next.loss = true;
      o = std::move(next);
      return {};
    }
    if (!counts(next)) continue;
    if (!first_same) first_same = std::move(next);
    ++same;
  }
  if (cancelled() || !first_same) return {};  // nothing counted: o is inconclusive already
  o = std::move(*first_same);
  o.judgement = same == kConnectionTries ? same_on_connections(std::move(o.judgement), same)
                                         : unconfirmed_on_connections(std::move(o.judgement), same, kConnectionTries);
  return {};
}

// An RST to live-syn or live-ack-unsent from a peer that never showed it took the connection:
// the case runs again on a connection primed with data (needs_half_open_control), which decides.
Result<void> Session::control_half_open(StrayOutcome& o) {
  if (cancelled() || stray_peer_took_connection(o.run) || !needs_half_open_control(o.run.id, o.judgement, o.run.seen))
    return {};
  target_.prime = std::string(kPrimeBytes);
  auto again = run_case(o.run.id);
  target_.prime.clear();
  if (!again) return tl::unexpected(again.error());
  if (cancelled()) return {};
  if (again->seen.setup_problem) {
    o.judgement = unproven_connection(std::move(o.judgement), *again->seen.setup_problem);
    return {};
  }
  auto judgement = judge_stray_case(o.run.id, again->probe, again->seen);
  judgement = judged_on_primed_connection(std::move(judgement), o.judgement, kPrimeBytes.size());
  const bool loss = stray_saw_loss(*again);
  o = StrayOutcome{std::move(*again), std::move(judgement), o.loss || loss};
  return {};
}

// Whether the run shows that segments reach the peer's stack on the group's port: a case of the
// group drew an answer, or else a control segment did, sent now up to kControlTries times. A
// control answered only after a silent one shows loss.
Result<bool> Session::port_answers(StrayGroup group, const Outcomes& outcomes) {
  bool control_silent = false;
  for (const auto& o : outcomes) {
    if (answered_at_port(o.run.seen, group)) return true;
    control_silent = control_silent || o.run.id == control_case(group);
  }
  for (int i = 0; i < kControlTries && !cancelled(); ++i) {
    auto control = run_stateless_case(control_case(group), target_, sender_, cancel_fd_);
    if (!control) return tl::unexpected(control.error());
    if (answered_at_port(control->seen, group)) {
      loss_seen_ = loss_seen_ || control_silent || i > 0;
      return true;
    }
  }
  return false;
}

// The control once more with a long wait: when it is answered after -W, the port answers, later
// than the run waits. The reason then says so ("" when it stays silent too).
Result<std::string> Session::late_control(StrayGroup group) {
  if (cancelled() || target_.timeout >= kLateControlWait) return std::string();
  StrayTarget patient = target_;
  patient.timeout = kLateControlWait;
  auto control = run_stateless_case(control_case(group), patient, sender_, cancel_fd_);
  if (!control) return tl::unexpected(control.error());
  if (!answered_at_port(control->seen, group)) return std::string();
  std::optional<int64_t> sent_ns, answered_ns;
  for (const auto& s : control->segments) {
    if (s.outbound && !sent_ns) sent_ns = s.time_ns;
    if (!s.outbound && !answered_ns) answered_ns = s.time_ns;
  }
  const std::string after = sent_ns && answered_ns && *answered_ns > *sent_ns
                                ? " after " + format_duration_ms(double(*answered_ns - *sent_ns) / 1e6)
                                : " later";
  // Not in whole milliseconds: -W 0.0001 was printed "(0 ms)".
  return "no case drew an answer within -W (" + format_duration_ms(double(target_.timeout.count()) / 1e3) + "), but " +
         std::string(stray_case_info(control_case(group)).name) + " sent once more and waited for longer drew one" +
         after + ": the answers come later than -W waits (a long round trip); run again with a longer -W";
}

// One silent case sent again until kSilenceTries, each try followed by the control segment. An
// answer to the case, or a control that draws none, shows loss: the loss control then decides.
Result<void> Session::confirm_one(StrayOutcome& o, StrayCase control) {
  constexpr int kTriedBefore = 2;  // run_and_judge sent it twice
  int tries = kTriedBefore;
  for (; tries < kSilenceTries; ++tries) {
    if (cancelled()) return {};
    auto again = run_case(o.run.id);
    if (!again) return tl::unexpected(again.error());
    if (!again->seen.answers.empty()) {
      loss_seen_ = true;
      auto judgement = later_try(judge_stray_case(o.run.id, again->probe, again->seen), tries);
      o = StrayOutcome{std::move(*again), std::move(judgement), true};
      return {};
    }
    auto check = run_stateless_case(control, target_, sender_, cancel_fd_);
    if (!check) return tl::unexpected(check.error());
    if (!answered_at_port(check->seen, stray_case_info(control).group)) {
      loss_seen_ = true;
      return {};
    }
  }
  o.judgement = confirmed_silence(std::move(o.judgement), tries, tries - kTriedBefore, stray_case_info(control).name);
  if (o.judgement.verdict == StrayVerdict::deviation && drops_.empty())
    drops_ = std::string(stray_case_info(o.run.id).name) + " drew nothing in " + std::to_string(tries) + " tries while " +
             std::string(stray_case_info(control).name) + " to the same port drew an answer";
  return {};
}

// Every deviation of the group that rests on silence where an RST was due is confirmed or shown
// to be loss. The control is the group's control segment, or when that is the silent one, a case
// of the group that drew an answer.
Result<void> Session::confirm_silence(StrayGroup group, Outcomes& outcomes) {
  for (auto& o : outcomes) {
    if (loss_seen_ || cancelled()) return {};
    if (o.judgement.verdict != StrayVerdict::deviation || !wants_reset(o.run.id) || o.run.seen.setup_problem ||
        !o.run.seen.answers.empty())
      continue;
    StrayCase control = control_case(group);
    if (control == o.run.id) {
      auto answered = std::find_if(outcomes.begin(), outcomes.end(), [&](const StrayOutcome& other) {
        return other.run.id != o.run.id && answered_at_port(other.run.seen, group);
      });
      if (answered == outcomes.end()) continue;  // nothing else of the group answered: no control
      control = answered->run.id;
    }
    if (auto r = confirm_one(o, control); !r) return r;
  }
  return {};
}

// Whether a control segment (`send()`, a StrayRun) draws an answer at the group's port, sent up
// to kControlTries times; an answer only after a silent try shows loss.
template <class Send>
Result<bool> Session::answers_within_tries(Send send, StrayGroup group) {
  bool answered = false;
  for (int i = 0; i < kControlTries && !answered && !cancelled(); ++i) {
    auto control = send();
    if (!control) return tl::unexpected(control.error());
    answered = answered_at_port(control->seen, group);
    loss_seen_ = loss_seen_ || (answered && i > 0);
  }
  return answered;
}

// Whether the closed-port case `twin` draws an answer: as it did in this run, or sent now.
Result<bool> Session::twin_answers(StrayCase twin) {
  if (const auto known = closed_answered_.find(twin); known != closed_answered_.end()) return known->second;
  auto answered = answers_within_tries([&] { return run_stateless_case(twin, target_, sender_, cancel_fd_); },
                                       StrayGroup::closed);
  if (answered && !cancelled()) closed_answered_[twin] = *answered;
  return answered;
}

// Whether FIN|ACK to the listening port draws its reset, once a run.
Result<bool> Session::fin_ack_answers() {
  if (fin_ack_answered_) return *fin_ack_answered_;
  auto answered = answers_within_tries([&] { return run_listener_fin_ack(target_, sender_, cancel_fd_); },
                                       StrayGroup::listen);
  if (answered && !cancelled()) fin_ack_answered_ = *answered;
  return answered;
}

// The twin control of the listening-port cases whose answer is silence (apply_twin_control),
// then the same-port control of those the twin control left conformant (apply_same_port_control).
Result<void> Session::control_twins(Outcomes& outcomes) {
  for (auto& o : outcomes) {
    const auto twin = stray_closed_twin(o.run.id);
    if (!twin || o.judgement.verdict != StrayVerdict::conformant || cancelled()) continue;
    // A closed port that listens cannot show it (the closed group said so when it ran).
    if (not_closed_ && *not_closed_) {
      o.judgement = apply_twin_control(std::move(o.judgement), *twin, target_.closed_port, false, **not_closed_);
      continue;
    }
    auto answered = twin_answers(*twin);
    if (!answered) return tl::unexpected(answered.error());
    if (cancelled()) return {};
    o.judgement = apply_twin_control(std::move(o.judgement), *twin, target_.closed_port, *answered);
    if (!*answered && drops_.empty())
      drops_ = std::string(stray_case_info(*twin).name) + " drew no reset from closed port " +
               std::to_string(target_.closed_port) + " either";
    if (o.judgement.verdict != StrayVerdict::conformant) continue;
    auto same_port = fin_ack_answers();
    if (!same_port) return tl::unexpected(same_port.error());
    if (cancelled()) return {};
    o.judgement = apply_same_port_control(std::move(o.judgement), target_.port, *same_port);
    if (!*same_port && drops_.empty())
      drops_ = "F. to listening port " + std::to_string(target_.port) + " drew no reset";
  }
  return {};
}

// The reach control of the live FINs' silences (apply_fin_reach_control): for each FIN case,
// the other's answer, from the group, or, when the run has not that case, that case sent now
// for the purpose, up to twice.
Result<void> Session::control_fin_reach(Outcomes& outcomes) {
  for (auto& o : outcomes) {
    const bool exact = o.run.id == StrayCase::live_fin_exact;
    if ((!exact && o.run.id != StrayCase::live_fin_out_of_window) || o.judgement.verdict != StrayVerdict::deviation ||
        cancelled())
      continue;
    const StrayCase other_id = exact ? StrayCase::live_fin_out_of_window : StrayCase::live_fin_exact;
    const auto other = std::find_if(outcomes.begin(), outcomes.end(), [&](const StrayOutcome& x) {
      return x.run.id == other_id && !x.run.seen.setup_problem;
    });
    bool reached = false;
    if (other != outcomes.end()) {
      reached = stray_drew_answer_on_either_try(other->run.seen);
    } else {
      for (int i = 0; i < 2 && !reached && !cancelled(); ++i) {
        auto control = run_case(other_id);
        if (!control) return tl::unexpected(control.error());
        reached = stray_drew_answer_on_either_try(control->seen);
      }
    }
    if (cancelled()) return {};
    o.judgement = apply_fin_reach_control(std::move(o.judgement), o.run.seen, reached);
  }
  return {};
}

// The reach control of live-rst-exact's survival (apply_reach_control): live-rst-in-window of
// the group, or, when the run has none, that case sent now for the purpose, up to twice.
Result<void> Session::control_reach(Outcomes& outcomes) {
  auto exact = std::find_if(outcomes.begin(), outcomes.end(), [](const StrayOutcome& o) {
    return o.run.id == StrayCase::live_rst_exact && o.judgement.rst_survived &&
           o.judgement.verdict == StrayVerdict::deviation;
  });
  if (exact == outcomes.end() || cancelled()) return {};
  bool reached = false;
  const auto in_window = std::find_if(outcomes.begin(), outcomes.end(), [](const StrayOutcome& o) {
    return o.run.id == StrayCase::live_rst_in_window && !o.run.seen.setup_problem;
  });
  if (in_window != outcomes.end()) {
    reached = stray_drew_answer_on_either_try(in_window->run.seen);
  } else {
    for (int i = 0; i < 2 && !reached && !cancelled(); ++i) {
      auto control = run_case(StrayCase::live_rst_in_window);
      if (!control) return tl::unexpected(control.error());
      reached = stray_drew_answer(control->seen);
    }
  }
  if (cancelled()) return {};
  exact->judgement = apply_reach_control(std::move(exact->judgement), reached);
  return {};
}

// The TTL control of the listen group (apply_ttl_control), before the others so that an answer
// from another box is named as such: against the listener's SYN/ACK, or when it was not seen,
// the listener's reset to listen-ack.
// Run again after the other controls: a case they sent again is judged anew.
void Session::control_ttl(Outcomes& outcomes) {
  if (!listener_ttl_) {
    listener_ttl_ = synack_ttl_;
    listener_ttl_whose_ = "the listener's SYN/ACK";
  }
  if (!listener_ttl_) {
    listener_ttl_whose_ = "the listener's own reset to listen-ack";
    for (const auto& o : outcomes)
      if (o.run.id == StrayCase::listen_ack && o.judgement.verdict == StrayVerdict::conformant)
        if (const StraySegment* t = first_real_tcp(o.run.seen.answers)) listener_ttl_ = t->ttl;
  }
  for (auto& o : outcomes)
    o.judgement = apply_ttl_control(std::move(o.judgement), o.run.seen, listener_ttl_, listener_ttl_whose_);
}

// Applies the controls to a group that has run: for a closed or listening port first the port
// control and the confirmation of silence (and for a listening port the twin control), then for
// every group the loss control.
Result<void> Session::settle(Outcomes& outcomes) {
  if (outcomes.empty()) return {};
  for (const auto& o : outcomes) loss_seen_ = loss_seen_ || o.loss;
  const auto group = stray_case_info(outcomes.front().run.id).group;
  const bool usable = std::any_of(outcomes.begin(), outcomes.end(), [](const StrayOutcome& o) { return !o.run.seen.setup_problem; });
  if (stateless(group) && usable) {
    if (group == StrayGroup::listen) control_ttl(outcomes);
    auto answered = port_answers(group, outcomes);
    if (!answered) return tl::unexpected(answered.error());
    if (!*answered) {
      const uint16_t port = group == StrayGroup::closed ? target_.closed_port : target_.port;
      std::string note = unresolved_neighbour_note(target_);
      if (note.empty()) {
        auto late = late_control(group);
        if (!late) return tl::unexpected(late.error());
        note = std::move(*late);
      }
      for (auto& o : outcomes) o.judgement = apply_port_control(o.judgement, port, false, note);
    } else if (auto r = confirm_silence(group, outcomes); !r) {
      return r;
    }
    if (group == StrayGroup::listen) {
      if (auto r = control_twins(outcomes); !r) return r;
      control_ttl(outcomes);
    }
    for (auto& o : outcomes)
      if (o.run.id == StrayCase::closed_rst || o.run.id == StrayCase::listen_rst)
        o.judgement = apply_drop_control(std::move(o.judgement), drops_);
    if (group == StrayGroup::closed)
      for (const auto& o : outcomes)
        if (!o.run.seen.setup_problem) closed_answered_[o.run.id] = stray_drew_answer(o.run.seen);
  }
  if (group == StrayGroup::live) {
    if (auto r = control_reach(outcomes); !r) return r;
    if (auto r = control_fin_reach(outcomes); !r) return r;
  }
  for (auto& o : outcomes) o.judgement = apply_loss_control(o.judgement, o.run.seen, loss_seen_);
  return {};
}

Result<void> Session::run(std::span<const StrayCase> cases, const StrayGroupDone& done) {
  Outcomes group;
  // Hands out the group, settled as far as it can be when the run ends in a failure.
  auto finish_group = [&]() -> Result<void> {
    auto settled = settle(group);
    if (!group.empty()) done(group);
    group.clear();
    return settled;
  };
  for (const auto id : cases) {
    if (cancelled()) break;
    if (!group.empty() && stray_case_info(group.front().run.id).group != stray_case_info(id).group)
      if (auto r = finish_group(); !r) return r;
    auto outcome = run_and_judge(id);
    if (!outcome) {
      (void)finish_group();
      return tl::unexpected(outcome.error());
    }
    group.push_back(std::move(*outcome));
  }
  return finish_group();
}

}  // namespace

Result<void> run_stray_cases(std::span<const StrayCase> cases, const StrayTarget& target, RawSender& sender,
                             int cancel_fd, const StrayGroupDone& group_done) {
  Session session(target, sender, cancel_fd);
  return session.run(cases, group_done);
}

}  // namespace tcpkit
