// A path trace's findings in order: attribution first (it needs every hop), then the stop point,
// then the words.
#include "tcpkit/probe/path_summary.hpp"

#include <algorithm>
#include <cstdlib>

#include "tcpkit/wire/segment.hpp"

namespace tcpkit {

namespace {

// Two changes are the same finding when they touch the same field (and option kind) the same way.
bool same_finding(const FieldChange& a, const FieldChange& b) {
  if (a.field != b.field) return false;
  if (a.option || b.option)
    return a.option && b.option && a.option->kind == b.option->kind && a.option->what == b.option->what &&
           a.after == b.after;
  return a.after == b.after;
}

bool judged(const HopAnswer& hop, SegmentField field) {
  return hop.diff && std::find(hop.diff->partial.begin(), hop.diff->partial.end(), field) == hop.diff->partial.end();
}

const char* option_name(uint8_t kind) {
  switch (kind) {
    case tcp_option::mss: return "MSS";
    case tcp_option::sack_permitted: return "SACK-permitted";
    case tcp_option::timestamps: return "timestamps";
    case tcp_option::window_scale: return "window scale";
    case tcp_option::sack: return "SACK";
    default: return nullptr;
  }
}

// "a", "a and b", "a, b and c".
std::string listed(const std::vector<std::string>& items) {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i) text += (i == 0 ? "" : i + 1 == items.size() ? " and " : ", ") + items[i];
  return text;
}

// "hop 3", "hops 2 and 3", "hops 2, 3 and 4".
std::string hops_text(const std::vector<int>& hops) {
  std::vector<std::string> numbers;
  numbers.reserve(hops.size());
  for (int hop : hops) numbers.push_back(std::to_string(hop));
  return (hops.size() == 1 ? "hop " : "hops ") + listed(numbers);
}

}  // namespace

std::string attribution_text(const AttributedChange& c) {
  return (c.from == 0 ? std::string("between the sender") : "between hop " + std::to_string(c.from)) + " and hop " +
         std::to_string(c.to);
}

// "ECE and CWR cleared", "URG set": flags named, from flags_compact's letters.
std::string flags_phrase(const FieldChange& c) {
  static constexpr std::pair<char, const char*> kLetters[] = {{'F', "FIN"}, {'S', "SYN"}, {'R', "RST"}, {'P', "PSH"},
                                                              {'.', "ACK"}, {'U', "URG"}, {'E', "ECE"}, {'W', "CWR"}};
  auto names = [&](const std::string& in, const std::string& not_in) {
    std::vector<std::string> out;
    for (const auto& [letter, name] : kLetters)
      if (in.find(letter) != std::string::npos && not_in.find(letter) == std::string::npos) out.emplace_back(name);
    return listed(out);
  };
  const std::string cleared = names(c.before, c.after), set = names(c.after, c.before);
  if (cleared.empty() && set.empty()) return to_string(c);
  if (set.empty()) return cleared + " cleared";
  if (cleared.empty()) return set + " set";
  return cleared + " cleared, " + set + " set";
}

std::string change_phrase(const FieldChange& c) {
  if (c.field == SegmentField::flags) return flags_phrase(c);
  if (!c.option) return to_string(c);
  const OptionChange& o = *c.option;
  const char* name = option_name(o.kind);
  if (!name) return to_string(c);
  switch (o.what) {
    case OptionChange::What::removed: return std::string(name) + " stripped";
    case OptionChange::What::added: return std::string(name) + " added";
    case OptionChange::What::moved: return std::string(name) + " moved";
    case OptionChange::What::changed:
      if (o.kind == tcp_option::mss && o.after.rfind("mss ", 0) == 0 && o.before.rfind("mss ", 0) == 0) {
        const std::string after = o.after.substr(4);
        const bool lower = std::strtoul(after.c_str(), nullptr, 10) < std::strtoul(o.before.c_str() + 4, nullptr, 10);
        return std::string("MSS ") + (lower ? "clamped to " : "raised to ") + after;
      }
      return to_string(c);
  }
  return to_string(c);
}

const char* path_stop_name(PathStop stop) {
  switch (stop) {
    case PathStop::reached: return "reached";
    case PathStop::dropped: return "dropped";
    case PathStop::rejected: return "rejected";
    case PathStop::no_answer: return "no answer";
    case PathStop::past_max_hops: return "past max hops";
    case PathStop::loop: return "routing loop";
  }
  return "?";
}

LoopTurn loop_turn(const std::vector<HopAnswer>& hops, const std::optional<IpAddress>& probed) {
  std::vector<const HopAnswer*> seen;  // routers' time exceeded, in TTL order
  for (const HopAnswer& h : hops)
    if (h.router && !h.unreachable && h.router != probed) seen.push_back(&h);
  for (size_t j = 0; j < seen.size(); ++j)
    for (size_t i = j; i-- > 0;) {
      if (seen[i]->router != seen[j]->router) continue;
      const bool other_between = std::any_of(seen.begin() + std::ptrdiff_t(i) + 1, seen.begin() + std::ptrdiff_t(j),
                                             [&](const HopAnswer* h) { return h->router != seen[j]->router; });
      if (!other_between) break;  // the same router at hops in a row: no turn closed here
      if (std::any_of(hops.begin(), hops.end(), [&](const HopAnswer& h) { return h.hop >= seen[i]->hop && h.several_routers; }))
        return {};
      LoopTurn turn;
      for (size_t k = i; k < j; ++k) {
        turn.hops.push_back(seen[k]->hop);
        turn.routers.push_back(*seen[k]->router);
      }
      turn.again = seen[j]->hop;
      const int length = turn.again - turn.hops.front();
      int pairs = 0;  // hops whose router is that of the hop a turn before
      for (const HopAnswer* a : seen)
        for (const HopAnswer* b : seen)
          if (b->hop == a->hop + length && a->hop >= turn.hops.front() && a->router == b->router) ++pairs;
      turn.confirmed = pairs >= 2;
      return turn;
    }
  return {};
}

PathSummary summarize_path(const std::vector<HopAnswer>& hops, const std::optional<DestinationAnswer>& destination,
                           const std::optional<IpAddress>& probed, int max_hop) {
  PathSummary out;
  // A packet addressed to a host is delivered there, never forwarded on: time exceeded from
  // that address comes from a box that rewrote the source.
  if (probed)
    for (const HopAnswer& h : hops)
      if (h.router == probed && !h.unreachable) out.nat_rewritten_hops.push_back(h.hop);
  // Attribution: each finding at the first hop whose quote shows it, after the last earlier hop
  // whose quote could see that field and did not show it.
  for (size_t i = 0; i < hops.size(); ++i) {
    if (!hops[i].diff) continue;
    for (const FieldChange& c : hops[i].diff->changes) {
      const bool known = std::any_of(out.changes.begin(), out.changes.end(),
                                     [&](const AttributedChange& a) { return same_finding(a.change, c); });
      if (known) continue;
      int from = 0;
      for (size_t j = i; j-- > 0;)
        if (judged(hops[j], c.field)) {
          from = hops[j].hop;
          break;
        }
      out.changes.push_back(AttributedChange{c, from, hops[i].hop});
    }
  }
  for (const HopAnswer& h : hops)
    if (h.router) {
      out.last_hop = h.hop;
      out.last_router = h.router;
      if (h.unreachable) {
        // A router refuses a SYN only when its TTL outlives it: it is the hop where the same
        // address sent time exceeded, if one did.
        for (const HopAnswer& earlier : hops)
          if (earlier.router == h.router && !earlier.unreachable) {
            out.last_hop = earlier.hop;
            break;
          }
        out.stop = PathStop::rejected;
        out.rejection = icmp_description(h.v6, h.icmp_type, h.icmp_code);
        break;
      }
    }
  if (out.stop != PathStop::rejected) {
    if (destination)
      out.stop = PathStop::reached;
    else if (out.last_hop > 0 && out.last_hop == max_hop)
      out.stop = PathStop::past_max_hops;  // the trace ran out of TTLs, not the SYN of a path
    else if (out.last_hop > 0)
      out.stop = PathStop::dropped;
  }
  // Found: a loop between two routers read "the destination is further away (a larger -m
  // reaches it)", though no SYN ever arrived. A loop seen on a way the SYN came through anyway
  // (it was changing) does not stop it.
  LoopTurn turn;
  if (out.stop != PathStop::rejected && out.stop != PathStop::reached) {
    turn = loop_turn(hops, probed);
    out.loop_routers = turn.routers;
    if (!out.loop_routers.empty()) out.stop = PathStop::loop;
  }
  if (out.stop == PathStop::reached && destination->hop > 0) {
    const int from = answer_hop(destination->ttl);
    if (from > 0 && from < destination->hop) {
      out.answered_from_hop = from;
      out.answered_from_silent_hop = std::none_of(hops.begin(), hops.end(), [&](const HopAnswer& h) {
        return h.hop == from && h.router;
      });
    } else if (from > destination->hop) {
      out.answered_from_further_hop = from;
    }
  }

  std::string words;
  for (const AttributedChange& a : out.changes) words += change_phrase(a.change) + " " + attribution_text(a) + "; ";
  if (!out.nat_rewritten_hops.empty())
    words += hops_text(out.nat_rewritten_hops) + " answered from " + probed->to_string() +
             ", the address probed, which no router on the way to it has: a destination NAT (port forwarding), "
             "likely at hop " + std::to_string(out.nat_rewritten_hops.front()) +
             ", gives it to its own answers and to those of the routers beyond it, so which routers these are is "
             "not known; ";
  const std::string last = out.last_router ? out.last_router->to_string() : "";
  const char* ttl_name = destination && !destination->from.is_v4() ? "hop limit" : "TTL";
  switch (out.stop) {
    case PathStop::reached:
      if (out.answered_from_silent_hop) {
        words += "the SYN got " + flags_names(destination->flags) + " in the name of " + destination->from.to_string() +
                 " at hop " + std::to_string(destination->hop) + "; that answer's " + ttl_name + " (" + std::to_string(destination->ttl) +
                 ") says it came from hop " + std::to_string(out.answered_from_hop) +
                 ", where nothing answered our probes: the destination may be there and the answers to that hop's "
                 "probes were lost, or a silent middlebox answered for it, or the way back is shorter";
      } else if (out.answered_from_hop > 0) {
        words += "the SYN got " + flags_names(destination->flags) + " in the name of " + destination->from.to_string() +
                 " at hop " + std::to_string(destination->hop) + ", but that answer's " + ttl_name + " (" +
                 std::to_string(destination->ttl) + ") says it came from hop " + std::to_string(out.answered_from_hop) +
                 ": a middlebox there (a firewall's reset, a SYN proxy) may have answered for it, and then the SYN "
                 "did not reach it; or a router there sets the " + ttl_name + " of what it forwards both ways (" +
                 ttl_name + " normalisation), which looks the same and hides the hops beyond it; or the way back "
                 "is shorter, or the destination starts from an unusual " + ttl_name + ", not 64, 128 or 255";
      } else {
        words += "the SYN reached " + destination->from.to_string() + ", which answered " + flags_names(destination->flags);
        if (out.answered_from_further_hop > 0) {
          // The raiser let the SYN of TTL H through: it is hop H (raising before its own expiry
          // check, as nft does at prerouting) or hop H - 1 (after it); a nearer one would have
          // let a smaller TTL through (found: "hop 1 or nearer" for a raise at hop 2).
          const int hop = destination->hop;
          const std::string raisers = hop > 1 ? std::to_string(hop - 1) + " or " + std::to_string(hop) : "1";
          words += "; that answer's " + std::string(ttl_name) + " (" + std::to_string(destination->ttl) +
                   ") says it came from hop " + std::to_string(out.answered_from_further_hop) + ", further than hop " +
                   std::to_string(hop) + " where our SYN first reached it: a router at hop " + raisers +
                   " may raise the " + ttl_name + " of what it forwards (" + ttl_name +
                   " normalisation), hiding the hops beyond it, or the way back is longer than the way out" +
                   (hop > 1 ? "" : ", or the destination starts from an unusual " + std::string(ttl_name));
        }
      }
      if (!destination->options.empty()) words += " (" + destination->options.to_string(OptionText::brief) + ")";
      if (destination->other_port)
        words += "; it answered from port " + std::to_string(*destination->other_port) + ", not port " +
                 std::to_string(destination->probed_port) + ": something on the way rewrote the destination port and "
                 "not the answer back (a connection fails)";
      if (destination->unpaired)
        words += "; its ack names none of our SYNs: something on the way changed the sequence number and not the "
                 "answer's ack back (a connection fails)";
      break;
    case PathStop::rejected:
      words += "the SYN is rejected at hop " + std::to_string(out.last_hop) + " by " + last + " (" + out.rejection + ")";
      // The destination's own firewall (a reject rule on its input) answers from the address
      // probed: no router on the way refuses it (found: read as a rejection on the way).
      if (probed && out.last_router && *out.last_router == *probed)
        words += ", the address probed: the destination's own firewall refuses the port (or a NAT in front of it, "
                 "which answers from that address), not a router on the way";
      break;
    case PathStop::dropped:
      words += "the SYN is dropped after hop " + std::to_string(out.last_hop) +
               (out.nat_rewritten(out.last_hop) ? " (which router that is, is not known: the NAT rewrote its address)"
                                        : " (last answer from " + last + ")") +
               ", or what answered it from further on was dropped on the way back (a firewall that drops "
               "the SYN/ACK looks the same from here)";
      break;
    case PathStop::no_answer:
      words += "no hop and not the destination answered: the SYN is dropped before the first router (a firewall "
               "on this host or the next), or every answer is dropped on the way back";
      break;
    case PathStop::loop: {
      std::vector<std::string> names;
      names.reserve(out.loop_routers.size());
      for (const IpAddress& a : out.loop_routers) names.push_back(a.to_string());
      const std::string routers = listed(names);
      words += "a routing loop: " + out.loop_routers.front().to_string() + " answered at hop " +
               std::to_string(turn.hops.front()) + " and again at hop " + std::to_string(turn.again) +
               ", the SYN going round " + routers + " (" + std::to_string(turn.again - turn.hops.front()) +
               " hops a turn): it never reaches the destination, and a larger -m will not help";
      if (!turn.confirmed)
        words += " (one turn seen: per-packet load balancing over paths of unequal length shows the same)";
      break;
    }
    case PathStop::past_max_hops:
      words += "the SYN went on past hop " + std::to_string(out.last_hop) + " (last answer from " + last +
               "), the last hop probed: the destination is further away (a larger -m reaches it)";
      break;
  }
  if (out.changes.empty() && (out.stop == PathStop::reached || out.stop == PathStop::past_max_hops ||
                               out.stop == PathStop::loop))
    words = std::string(out.nat_rewritten_hops.empty() ? "no change to the SYN seen; "
                                                       : "no change to the SYN seen (a NAT translates the quotes "
                                                         "back, so what it changes cannot show); ") +
            words;
  out.verdict = words;
  return out;
}

}  // namespace tcpkit
