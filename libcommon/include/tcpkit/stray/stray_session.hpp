#pragma once
// A whole tcpstray run against one target: the cases in order, each judged on the evidence of
// the run, and handed out group by group (a group's verdicts are final once it has run).
// - A closed- or listening-port case whose answer is an RST and that drew nothing is sent again
//   from a fresh port: a lost segment must not pass for a firewall that drops.
// - Silence where an RST was due is a deviation only if it holds over kSilenceTries tries while
//   a control segment to the same port draws an answer after each (else the path lost packets).
// - The port control, the loss control and the RST control of stray_verdict.hpp.
#include <functional>
#include <span>
#include <vector>

#include "tcpkit/stray/stray_run.hpp"

namespace tcpkit {

struct StrayOutcome {
  StrayRun run;
  StrayJudgement judgement;
  bool loss = false;  // this case showed that the path loses packets
};

// Called with each group's outcomes, final, once the group has run; also with the part of a
// group that ran when the run ends early.
using StrayGroupDone = std::function<void(const std::vector<StrayOutcome>&)>;

// Runs `cases` until the last, cancel_fd (Ctrl-C: the case under way ends inconclusive) or a
// failure, which is returned after what ran has been handed out.
Result<void> run_stray_cases(std::span<const StrayCase> cases, const StrayTarget& target, RawSender& sender,
                             int cancel_fd, const StrayGroupDone& group_done);

}  // namespace tcpkit
