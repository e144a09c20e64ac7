#include "common/flag_suggest.hpp"

#include <algorithm>
#include <cctype>

namespace tcpkit::cli {

size_t edit_distance(const std::string& a, const std::string& b) {
  // Optimal string alignment: Levenshtein plus adjacent swaps ("--ocunt").
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::optional<std::string> nearest_flag(const std::string& typed, const std::vector<std::string>& candidates) {
  const std::string name = typed.substr(0, typed.find('='));
  const size_t letters = name.size() - std::min(name.find_first_not_of('-'), name.size());
  std::optional<std::string> best;
  size_t best_distance = 3;
  for (const auto& c : candidates) {
    if (c.size() <= 2) continue;  // short flags: one letter off is another flag, not a typo
    const size_t dist = edit_distance(name, c);
    if (dist < best_distance && dist * 2 < letters) best = c, best_distance = dist;
  }
  return best;
}

std::vector<std::string> app_flags(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::Option* o : app.get_options()) {
    for (const auto& l : o->get_lnames()) out.push_back("--" + l);
    for (const auto& s : o->get_snames()) out.push_back("-" + s);
  }
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    auto more = app_flags(*sub);
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

std::string unknown_option_message(const CLI::App& app, const std::vector<std::string>& args) {
  const std::vector<std::string> flags = app_flags(app);
  for (const auto& arg : args) {
    if (arg == "--") break;  // operands from here on
    if (arg.size() < 2 || arg[0] != '-') continue;
    if (std::isdigit(static_cast<unsigned char>(arg[1]))) continue;  // a negative number
    if (arg[1] != '-' && arg.size() > 2) continue;                     // -c3, -4v: short flags with values
    const std::string name = arg.substr(0, arg.find('='));
    if (std::find(flags.begin(), flags.end(), name) != flags.end()) continue;
    std::string message = "unknown option " + name;
    if (auto near = nearest_flag(name, flags)) message += "; did you mean " + *near + "?";
    return message;
  }
  return {};
}

}  // namespace tcpkit::cli
