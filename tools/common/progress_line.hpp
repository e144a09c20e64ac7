#pragma once
// A one-line status on stderr, redrawn in place ("\r" + erase to end of line). Only for a
// terminal: callers check stderr_redraws() first, so pipes and logs never see it.
#include <string>

namespace tcpkit::cli {

class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled) {}
  ~ProgressLine() { clear(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  void show(const std::string& text);
  // Erases the line, so the next stderr message starts clean.
  void clear();
  // Shows the last text again after clear(): results written in between never share its line.
  void redraw();
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  bool shown_ = false;
  std::string text_;
};

}  // namespace tcpkit::cli
