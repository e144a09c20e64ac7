#include "common/progress_line.hpp"

#include <cstdio>

namespace tcpkit::cli {

void ProgressLine::show(const std::string& text) {
  if (!enabled_) return;
  text_ = text;
  std::fprintf(stderr, "\r%s\033[K", text.c_str());
  std::fflush(stderr);
  shown_ = true;
}

void ProgressLine::clear() {
  if (!enabled_ || !shown_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  shown_ = false;
}

void ProgressLine::redraw() {
  if (enabled_ && !shown_ && !text_.empty()) show(text_);
}

}  // namespace tcpkit::cli
