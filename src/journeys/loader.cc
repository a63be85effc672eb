#include "journeys/loader.h"

#include <date/tz.h>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <functional>
#include <set>

#include "base/crypto.h"
#include "base/file.h"
#include "base/text.h"

namespace tp::journeys {
namespace {

std::string closest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best_distance <= std::max<size_t>(2, word.size() / 2) ? best : "";
}

std::string q(std::string_view s) { return fmt::format("\"{}\"", s); }

// Reads YAML nodes into the definition, collecting problems with their positions.
class Reader {
 public:
  Reader(std::string file, std::vector<Problem>& problems) : file_(std::move(file)), problems_(problems) {}

  void problem(const YAML::Node& at, std::string message) { problem(at.Mark(), std::move(message)); }
  void problem(const YAML::Mark& m, std::string message) {
    // A node that is not in the text (an empty document) has no position: point at the start.
    problems_.push_back({file_, std::max(m.line, 0) + 1, std::max(m.column, 0) + 1, std::move(message)});
  }
  size_t count() const { return problems_.size(); }

  // Reports keys of `map` not in `allowed`, naming the closest valid key.
  void check_keys(const YAML::Node& map, const std::vector<std::string>& allowed, std::string_view where) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      std::string key = it->first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string suggestion = closest(key, allowed);
      problem(it->first, fmt::format("unknown key {} in {}{}", q(key), where,
                                     suggestion.empty() ? "" : fmt::format("; did you mean {}?", q(suggestion))));
    }
  }

  bool is_map(const YAML::Node& n, std::string_view what) {
    if (n.IsMap()) return true;
    problem(n, fmt::format("{} must be a mapping (key: value lines)", what));
    return false;
  }

  std::optional<std::string> string(const YAML::Node& n, std::string_view what) {
    if (n.IsScalar()) return n.Scalar();
    problem(n, fmt::format("{} must be a text value", what));
    return std::nullopt;
  }

  std::optional<Millis> duration(const YAML::Node& n, std::string_view what) {
    if (n.IsScalar()) {
      if (auto d = parse_duration(n.Scalar())) return d;
    }
    problem(n, fmt::format("{}: {} is not a duration; write e.g. 48h, 30d, 1w, 90m", what,
                           n.IsScalar() ? q(n.Scalar()) : "this"));
    return std::nullopt;
  }

  std::optional<int> time_of_day(const YAML::Node& n, std::string_view what) {
    if (n.IsScalar()) {
      if (auto t = parse_time_of_day(n.Scalar())) return t;
    }
    problem(n, fmt::format("{}: {} is not a time of day; write HH:MM, e.g. \"09:00\"", what,
                           n.IsScalar() ? q(n.Scalar()) : "this"));
    return std::nullopt;
  }

  void time_zone(const YAML::Node& n, std::string_view what, std::string& out) {
    auto name = string(n, what);
    if (!name) return;
    try {
      (void)date::locate_zone(*name);
      out = *name;
    } catch (const std::exception&) {
      problem(n, fmt::format("{}: unknown time zone {}; use an IANA name such as Europe/Stockholm", what, q(*name)));
    }
  }

  Json value(const YAML::Node& n) {
    if (n.IsNull()) return nullptr;
    if (n.IsSequence()) {
      Json arr = Json::array();
      for (const auto& item : n) arr.push_back(value(item));
      return arr;
    }
    if (n.IsMap()) {
      Json obj = Json::object();
      for (auto it = n.begin(); it != n.end(); ++it) obj[it->first.Scalar()] = value(it->second);
      return obj;
    }
    const std::string& s = n.Scalar();
    if (n.Tag() == "!") return s;  // quoted: always a string
    if (s == "true") return true;
    if (s == "false") return false;
    if (s == "null" || s == "~") return nullptr;
    long long i;
    if (auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i); ec == std::errc() && p == s.data() + s.size())
      return i;
    double d;
    if (auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d); ec == std::errc() && p == s.data() + s.size())
      return d;
    return s;
  }

  // A condition map: every entry must hold.
  std::vector<Condition> conditions(const YAML::Node& n, std::string_view what) {
    std::vector<Condition> out;
    if (!is_map(n, what)) return out;
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (auto c = condition_entry(it->first, it->second)) out.push_back(std::move(*c));
    }
    return out;
  }

  std::optional<Condition> condition_entry(const YAML::Node& key_node, const YAML::Node& v) {
    std::string key = key_node.Scalar();
    Condition c;
    if (key == "all" || key == "any") {
      c.kind = key == "all" ? Condition::Kind::kAll : Condition::Kind::kAny;
      if (!v.IsSequence()) {
        problem(v, fmt::format("{} takes a list of conditions", key));
        return std::nullopt;
      }
      for (const auto& item : v) {
        Condition group;
        group.kind = Condition::Kind::kAll;
        group.children = conditions(item, "a condition");
        c.children.push_back(std::move(group));
      }
      return c;
    }
    if (key == "not") {
      c.kind = Condition::Kind::kNot;
      Condition group;
      group.kind = Condition::Kind::kAll;
      group.children = conditions(v, "not");
      c.children.push_back(std::move(group));
      return c;
    }
    if (key == "did" || key == "not_did") {
      c.kind = Condition::Kind::kDid;
      c.negate = key == "not_did";
      if (!is_map(v, key)) return std::nullopt;
      check_keys(v, {"event", "within", "since", "where"}, key);
      if (!v["event"]) {
        problem(v, fmt::format("{} needs an event", key));
        return std::nullopt;
      }
      c.event = string(v["event"], "event").value_or("");
      if (v["within"]) c.within = duration(v["within"], "within");
      if (v["since"]) {
        if (v["since"].Scalar() == "day0") c.since_day0 = true;
        else problem(v["since"], "since: the only supported value is day0");
      }
      if (v["where"]) c.event_where = conditions(v["where"], "where");
      return c;
    }
    if (key.rfind("traits.", 0) != 0 && key.rfind("properties.", 0) != 0 && key.rfind("event.", 0) != 0) {
      problem(key_node, fmt::format("bad condition {}: a condition names traits.<name>, properties.<name> or event.<field>, "
                                    "or is all, any, not, did or not_did", q(key)));
      return std::nullopt;
    }
    c.kind = Condition::Kind::kCompare;
    c.path = key;
    if (!v.IsMap()) {
      c.op = Condition::Op::kEq;
      c.value = value(v);
      return c;
    }
    static const std::vector<std::pair<std::string, Condition::Op>> kOps = {
        {"eq", Condition::Op::kEq},         {"ne", Condition::Op::kNe},          {"lt", Condition::Op::kLt},
        {"lte", Condition::Op::kLe},        {"gt", Condition::Op::kGt},          {"gte", Condition::Op::kGe},
        {"in", Condition::Op::kIn},         {"not_in", Condition::Op::kNotIn},   {"exists", Condition::Op::kExists},
        {"contains", Condition::Op::kContains}, {"between", Condition::Op::kBetween}};
    if (v.size() != 1) {
      problem(v, fmt::format("condition on {} must have exactly one operator", key));
      return std::nullopt;
    }
    auto op_it = v.begin();
    std::string op = op_it->first.Scalar();
    auto found = std::find_if(kOps.begin(), kOps.end(), [&](const auto& p) { return p.first == op; });
    if (found == kOps.end()) {
      std::vector<std::string> names;
      for (const auto& p : kOps) names.push_back(p.first);
      std::string suggestion = closest(op, names);
      problem(op_it->first, fmt::format("unknown operator {} on {}{}", q(op), key,
                                        suggestion.empty() ? "" : fmt::format("; did you mean {}?", q(suggestion))));
      return std::nullopt;
    }
    c.op = found->second;
    c.value = value(op_it->second);
    if (c.op == Condition::Op::kExists && !c.value.is_boolean()) {
      problem(op_it->second, "exists takes true or false");
      return std::nullopt;
    }
    if (c.op == Condition::Op::kExists && !c.value.get<bool>()) c.op = Condition::Op::kMissing;
    if ((c.op == Condition::Op::kIn || c.op == Condition::Op::kNotIn) && !c.value.is_array()) {
      problem(op_it->second, fmt::format("{} takes a list", op));
      return std::nullopt;
    }
    if (c.op == Condition::Op::kBetween && !(c.value.is_array() && c.value.size() == 2)) {
      problem(op_it->second, "between takes a list of two values, e.g. [25, 40]");
      return std::nullopt;
    }
    return c;
  }

  Trigger trigger(const YAML::Node& n, std::string_view what, bool is_entry) {
    Trigger t;
    if (n.IsScalar()) {
      t.description = n.Scalar();
      return t;
    }
    if (!is_map(n, what)) return t;
    std::vector<std::string> keys = {"description", "event", "where", "becomes"};
    if (is_entry) keys.insert(keys.end(), {"date", "api", "reentry", "day0"});
    check_keys(n, keys, what);
    if (n["description"]) t.description = string(n["description"], "description").value_or("");
    if (n["event"]) t.event = string(n["event"], "event").value_or("");
    if (n["where"]) t.where = conditions(n["where"], "where");
    if (n["becomes"]) {
      Condition all;
      all.kind = Condition::Kind::kAll;
      all.children = conditions(n["becomes"], "becomes");
      t.becomes_true = std::move(all);
    }
    if (is_entry && n["date"]) {
      const YAML::Node d = n["date"];
      if (is_map(d, "date")) {
        check_keys(d, {"trait", "offset", "at", "yearly"}, "date");
        if (!d["trait"]) problem(d, "date needs a trait, e.g. trait: renewal_date");
        else t.date_trait = string(d["trait"], "trait").value_or("");
        if (d["offset"]) t.date_offset = duration(d["offset"], "offset").value_or(Millis(0));
        if (d["at"]) t.at_minutes = time_of_day(d["at"], "at").value_or(9 * 60);
        if (d["yearly"]) t.yearly = value(d["yearly"]) == Json(true);
      }
    }
    if (is_entry && n["api"]) t.api = value(n["api"]) == Json(true);
    int kinds = !t.event.empty() + (t.becomes_true ? 1 : 0) + !t.date_trait.empty() + t.api;
    if (is_entry && kinds == 0) problem(n, "entry needs a trigger: event, becomes, date or api");
    if (kinds > 1) problem(n, fmt::format("{} has more than one trigger; use one of event, becomes, date, api", what));
    return t;
  }

 private:
  std::string file_;
  std::vector<Problem>& problems_;
};

const std::vector<std::string> kTopKeys = {"id", "name", "priority", "send_type", "purpose", "consent", "goal", "audience",
                                           "entry", "exit", "data_source", "follow_up", "owner", "status", "steps"};
const std::vector<std::string> kStepKeys = {"id", "description", "send", "task", "update", "delay", "wait_until",
                                            "wait_for", "branch", "split", "goal", "exit", "webhook", "send_type",
                                            "next", "on_event", "on_timeout"};

std::optional<SendType> send_type(Reader& r, const YAML::Node& n) {
  auto s = r.string(n, "send_type");
  if (s == "transactional") return SendType::kTransactional;
  if (s == "commercial") return SendType::kCommercial;
  if (s) r.problem(n, fmt::format("send_type {} must be transactional or commercial", q(*s)));
  return std::nullopt;
}

void read_step(Reader& r, const YAML::Node& n, Step& step) {
  r.check_keys(n, kStepKeys, fmt::format("step {}", q(step.id)));
  static const std::vector<std::string> kActions = {"send", "task", "update", "wait_for", "branch", "split", "goal", "exit", "webhook"};
  std::vector<std::string> actions;
  for (const auto& a : kActions)
    if (n[a]) actions.push_back(a);
  if (actions.size() > 1)
    r.problem(n, fmt::format("step {} has more than one action ({}); split it into steps", q(step.id),
                             fmt::join(actions, ", ")));
  if (n["delay"]) step.delay = r.duration(n["delay"], "delay");
  if (n["wait_until"]) {
    const YAML::Node w = n["wait_until"];
    if (r.is_map(w, "wait_until")) {
      r.check_keys(w, {"day", "at", "trait", "offset"}, "wait_until");
      WaitUntil until;
      if (w["day"]) {
        Json day = r.value(w["day"]);
        if (!day.is_number_integer() || day.get<long long>() < 0) r.problem(w["day"], "day must be a whole number, 0 or more");
        else until.day = day.get<int>();
      }
      if (w["trait"]) until.date_trait = r.string(w["trait"], "trait").value_or("");
      if (w["offset"]) until.offset = r.duration(w["offset"], "offset").value_or(Millis(0));
      if (!w["at"]) r.problem(w, "wait_until needs at: \"HH:MM\" (local time)");
      else until.minutes = r.time_of_day(w["at"], "at").value_or(0);
      step.wait_until = until;
    }
  }
  if (step.delay && step.wait_until) r.problem(n, "a step takes delay or wait_until, not both");
  if (n["send_type"]) step.send_type = send_type(r, n["send_type"]);
  if (n["next"]) step.next = r.string(n["next"], "next").value_or("");

  if (actions.empty()) {
    if (step.delay) step.kind = StepKind::kDelay;
    else if (step.wait_until) step.kind = StepKind::kWaitUntil;
    else r.problem(n, fmt::format("step {} does nothing; give it one of send, task, update, delay, wait_until, wait_for, "
                                  "branch, split, goal, exit, webhook", q(step.id)));
    return;
  }
  const std::string& action = actions.front();
  const YAML::Node a = n[action];
  if (action == "send" || action == "webhook") {
    step.kind = action == "send" ? StepKind::kSend : StepKind::kWebhook;
    step.channel = Channel::kWebhook;
    if (!r.is_map(a, action)) return;
    r.check_keys(a, action == "send" ? std::vector<std::string>{"channel", "template"} : std::vector<std::string>{"template"},
                 action);
    if (action == "send") {
      auto channel = a["channel"] ? r.string(a["channel"], "channel") : std::nullopt;
      if (!a["channel"]) r.problem(a, "send needs a channel: email, sms or webhook");
      else if (channel == "email") step.channel = Channel::kEmail;
      else if (channel == "sms") step.channel = Channel::kSms;
      else if (channel == "webhook") step.channel = Channel::kWebhook;
      else if (channel) r.problem(a["channel"], fmt::format("unknown channel {}; use email, sms or webhook", q(*channel)));
    }
    step.template_name = a["template"] ? r.string(a["template"], "template").value_or(step.id) : step.id;
  } else if (action == "task") {
    step.kind = StepKind::kTask;
    if (a.IsMap()) {
      r.check_keys(a, {"template"}, "task");
      step.template_name = a["template"] ? r.string(a["template"], "template").value_or(step.id) : step.id;
    } else {
      step.template_name = step.id;
    }
  } else if (action == "update") {
    step.kind = StepKind::kUpdate;
    if (!r.is_map(a, "update")) return;
    r.check_keys(a, {"set", "increment"}, "update");
    if (a["set"] && r.is_map(a["set"], "set"))
      for (auto it = a["set"].begin(); it != a["set"].end(); ++it)
        step.updates.push_back({it->first.Scalar(), r.value(it->second), std::nullopt});
    if (a["increment"] && r.is_map(a["increment"], "increment"))
      for (auto it = a["increment"].begin(); it != a["increment"].end(); ++it) {
        Json by = r.value(it->second);
        if (!by.is_number()) r.problem(it->second, "increment takes a number");
        else step.updates.push_back({it->first.Scalar(), nullptr, by.get<double>()});
      }
    if (step.updates.empty()) r.problem(a, "update needs set: or increment: with at least one trait");
  } else if (action == "wait_for") {
    step.kind = StepKind::kWaitFor;
    if (!r.is_map(a, "wait_for")) return;
    r.check_keys(a, {"event", "of", "where", "correlate", "timeout"}, "wait_for");
    if (!a["event"]) r.problem(a, "wait_for needs an event");
    else step.wait_for.event = r.string(a["event"], "event").value_or("");
    if (a["of"]) {
      if (a["of"].IsScalar()) step.wait_for.of.push_back(a["of"].Scalar());
      else if (a["of"].IsSequence())
        for (const auto& s : a["of"]) step.wait_for.of.push_back(r.string(s, "of").value_or(""));
      else r.problem(a["of"], "of takes a step id or a list of step ids");
    }
    if (a["where"]) step.wait_for.where = r.conditions(a["where"], "where");
    if (a["correlate"]) step.wait_for.correlate = r.string(a["correlate"], "correlate").value_or("");
    if (!a["timeout"]) r.problem(a, "wait_for needs a timeout, e.g. timeout: 48h");
    else step.wait_for.timeout = r.duration(a["timeout"], "timeout").value_or(Millis(0));
    if (n["on_event"]) step.on_event = r.string(n["on_event"], "on_event").value_or("");
    if (n["on_timeout"]) step.on_timeout = r.string(n["on_timeout"], "on_timeout").value_or("");
  } else if (action == "branch") {
    step.kind = StepKind::kBranch;
    if (!a.IsSequence()) {
      r.problem(a, "branch takes a list of {when: …, next: …} and an optional {else: …}");
      return;
    }
    for (const auto& arm : a) {
      if (!r.is_map(arm, "a branch arm")) continue;
      if (arm["else"]) {
        r.check_keys(arm, {"else"}, "branch");
        step.otherwise = r.string(arm["else"], "else").value_or("");
        continue;
      }
      r.check_keys(arm, {"when", "next"}, "branch");
      BranchArm b;
      if (!arm["when"]) r.problem(arm, "a branch arm needs when: (or else:)");
      else b.when = r.conditions(arm["when"], "when");
      if (!arm["next"]) r.problem(arm, "a branch arm needs next:");
      else b.next = r.string(arm["next"], "next").value_or("");
      step.arms.push_back(std::move(b));
    }
  } else if (action == "split") {
    step.kind = StepKind::kSplit;
    if (!a.IsSequence()) {
      r.problem(a, "split takes a list of {weight: …, next: …} (and optionally {weight: …, holdout: true})");
      return;
    }
    for (const auto& arm : a) {
      if (!r.is_map(arm, "a split arm")) continue;
      r.check_keys(arm, {"weight", "next", "holdout"}, "split");
      SplitArm s;
      Json w = arm["weight"] ? r.value(arm["weight"]) : Json();
      if (!w.is_number() || w.get<double>() <= 0) r.problem(arm, "a split arm needs a positive weight");
      else s.weight = w.get<double>();
      s.holdout = arm["holdout"] && r.value(arm["holdout"]) == Json(true);
      if (arm["next"]) s.next = r.string(arm["next"], "next").value_or("");
      if (s.next.empty() && !s.holdout) r.problem(arm, "a split arm needs next: (or holdout: true)");
      step.split.push_back(std::move(s));
    }
    if (step.split.empty()) r.problem(a, "split needs at least one arm");
  } else if (action == "goal") {
    step.kind = StepKind::kGoal;
  } else if (action == "exit") {
    step.kind = StepKind::kExit;
  }
}

// Step references, reachability, and loops that never wait.
void check_graph(Reader& r, const YAML::Node& steps_node, Journey& j) {
  size_t problems_before = r.count();
  std::vector<std::string> ids;
  for (const auto& s : j.steps) ids.push_back(s.id);
  auto resolve = [&](const Step& from, const std::string& target, std::string_view key) -> std::optional<size_t> {
    auto it = j.step_index.find(target);
    if (it != j.step_index.end()) return it->second;
    std::string suggestion = closest(target, ids);
    r.problem(steps_node[static_cast<int>(j.step_index.at(from.id))],
              fmt::format("step {}: {} names unknown step {}{}", q(from.id), key, q(target),
                          suggestion.empty() ? "" : fmt::format("; did you mean {}?", q(suggestion))));
    return std::nullopt;
  };
  // Successors of each step.
  std::vector<std::vector<size_t>> next(j.steps.size());
  for (size_t i = 0; i < j.steps.size(); ++i) {
    const Step& s = j.steps[i];
    auto add = [&](const std::string& target, std::string_view key) {
      if (auto t = resolve(s, target, key)) next[i].push_back(*t);
    };
    auto follow = [&] {
      if (!s.next.empty()) add(s.next, "next");
      else if (i + 1 < j.steps.size()) next[i].push_back(i + 1);
    };
    switch (s.kind) {
      case StepKind::kExit:
        break;
      case StepKind::kWaitFor:
        if (!s.on_event.empty()) add(s.on_event, "on_event");
        if (!s.on_timeout.empty()) add(s.on_timeout, "on_timeout");
        if (s.on_event.empty() || s.on_timeout.empty()) follow();
        for (const auto& of : s.wait_for.of) {
          auto t = resolve(s, of, "wait_for.of");
          if (t && j.steps[*t].kind != StepKind::kSend)
            r.problem(steps_node[static_cast<int>(i)], fmt::format("step {}: wait_for.of names {}, which is not a send step",
                                                                   q(s.id), q(of)));
        }
        break;
      case StepKind::kBranch:
        for (const auto& arm : s.arms) add(arm.next, "branch next");
        if (!s.otherwise.empty()) add(s.otherwise, "else");
        else follow();
        break;
      case StepKind::kSplit:
        for (const auto& arm : s.split)
          if (!arm.holdout) add(arm.next, "split next");
        break;
      default:
        follow();
    }
  }
  if (j.steps.empty() || r.count() != problems_before) return;
  // Reachability from the first step.
  std::vector<bool> seen(j.steps.size());
  std::vector<size_t> stack = {0};
  while (!stack.empty()) {
    size_t i = stack.back();
    stack.pop_back();
    if (seen[i]) continue;
    seen[i] = true;
    for (size_t t : next[i]) stack.push_back(t);
  }
  for (size_t i = 0; i < j.steps.size(); ++i)
    if (!seen[i])
      r.problem(steps_node[static_cast<int>(i)], fmt::format("step {} can never be reached", q(j.steps[i].id)));
  // A cycle whose steps never wait would run forever in one instant.
  auto waits = [&](const Step& s) {
    return s.delay || s.wait_until || s.kind == StepKind::kWaitFor;
  };
  std::vector<int> state(j.steps.size(), 0);  // 0 new, 1 on stack, 2 done
  std::function<bool(size_t)> visit = [&](size_t i) -> bool {
    state[i] = 1;
    for (size_t t : next[i]) {
      if (waits(j.steps[t])) continue;
      if (state[t] == 1) {
        r.problem(steps_node[static_cast<int>(t)],
                  fmt::format("steps loop back to {} without a wait (delay, wait_until or wait_for)", q(j.steps[t].id)));
        return true;
      }
      if (state[t] == 0 && visit(t)) return true;
    }
    state[i] = 2;
    return false;
  };
  for (size_t i = 0; i < j.steps.size(); ++i)
    if (state[i] == 0 && !waits(j.steps[i]) && visit(i)) break;
}

std::optional<YAML::Node> parse_yaml(const std::string& file, const std::string& text, std::vector<Problem>& problems) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    problems.push_back({file, e.mark.line + 1, e.mark.column + 1, "YAML syntax: " + e.msg});
  } catch (const YAML::Exception& e) {
    problems.push_back({file, e.mark.line + 1, e.mark.column + 1, e.msg});
  }
  return std::nullopt;
}

}  // namespace

std::string Problem::to_string() const { return fmt::format("{}:{}:{}: {}", file, line, column, message); }

std::string_view channel_name(Channel c) {
  switch (c) {
    case Channel::kEmail: return "email";
    case Channel::kSms: return "sms";
    case Channel::kWebhook: return "webhook";
  }
  return "email";
}

std::optional<Millis> parse_duration(std::string_view text) {
  bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  long long total = 0;
  while (!text.empty()) {
    long long n = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || p == text.data() + text.size()) return std::nullopt;
    char unit = *p;
    long long unit_ms = unit == 'w' ? 7 * 86400000LL : unit == 'd' ? 86400000LL : unit == 'h' ? 3600000LL
                      : unit == 'm' ? 60000LL : unit == 's' ? 1000LL : 0;
    if (unit_ms == 0 || n < 0) return std::nullopt;
    total += n * unit_ms;
    text.remove_prefix(static_cast<size_t>(p - text.data()) + 1);
  }
  return Millis(negative ? -total : total);
}

std::optional<int> parse_time_of_day(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  int h = 0, m = 0;
  auto r1 = std::from_chars(text.data(), text.data() + 2, h);
  auto r2 = std::from_chars(text.data() + 3, text.data() + 5, m);
  if (r1.ec != std::errc() || r2.ec != std::errc() || r1.ptr != text.data() + 2 || r2.ptr != text.data() + 5) return std::nullopt;
  if (h > 23 || m > 59) return std::nullopt;
  return h * 60 + m;
}

std::optional<Journey> load_journey(const std::string& file, const std::string& text, std::vector<Problem>& problems) {
  size_t before = problems.size();
  auto root = parse_yaml(file, text, problems);
  if (!root) return std::nullopt;
  Reader r(file, problems);
  if (!r.is_map(*root, "a journey file")) return std::nullopt;
  const YAML::Node& n = *root;
  r.check_keys(n, kTopKeys, "the journey");
  Journey j;
  j.file = file;
  j.version = hex_encode(sha256(text)).substr(0, 12);
  j.source = text;
  for (const char* required : {"id", "name", "entry", "steps"})
    if (!n[required]) r.problem(n, fmt::format("missing required key {}", q(required)));
  if (n["id"]) {
    j.id = r.string(n["id"], "id").value_or("");
    bool ok = !j.id.empty() && std::all_of(j.id.begin(), j.id.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
    if (!ok) r.problem(n["id"], fmt::format("id {} may use only a-z, 0-9, - and _", q(j.id)));
  }
  auto text_field = [&](const char* key, std::string& out) {
    if (n[key]) out = r.string(n[key], key).value_or("");
  };
  text_field("name", j.name);
  text_field("purpose", j.purpose);
  text_field("data_source", j.data_source);
  text_field("follow_up", j.follow_up);
  text_field("owner", j.owner);
  if (n["consent"]) {
    j.consent = r.string(n["consent"], "consent").value_or("");
    bool ok = !j.consent.empty() && j.consent.size() <= 64 && j.consent[0] != '-' && j.consent[0] != '_' &&
              std::all_of(j.consent.begin(), j.consent.end(), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
              });
    if (!ok)
      r.problem(n["consent"], fmt::format("consent {} must be a purpose id: a-z, 0-9, - and _ (at most 64)",
                                          q(j.consent)));
  }
  if (n["status"]) {
    j.status = r.string(n["status"], "status").value_or("active");
    if (j.status != "draft" && j.status != "active" && j.status != "paused" && j.status != "retired")
      r.problem(n["status"], fmt::format("status {} must be draft, active, paused or retired", q(j.status)));
  }
  if (n["priority"]) {
    Json p = r.value(n["priority"]);
    if (!p.is_number_integer() || p.get<int>() < 1 || p.get<int>() > 3) r.problem(n["priority"], "priority must be 1, 2 or 3");
    else j.priority = p.get<int>();
  }
  if (n["send_type"]) j.send_type = send_type(r, n["send_type"]).value_or(SendType::kCommercial);
  if (n["audience"]) {
    const YAML::Node a = n["audience"];
    if (a.IsScalar()) {
      j.audience_text = a.Scalar();
    } else if (r.is_map(a, "audience")) {
      r.check_keys(a, {"description", "where"}, "audience");
      if (a["description"]) j.audience_text = r.string(a["description"], "description").value_or("");
      if (a["where"]) j.audience = r.conditions(a["where"], "where");
    }
  }
  if (n["entry"]) {
    j.entry = r.trigger(n["entry"], "entry", true);
    const YAML::Node e = n["entry"];
    if (e.IsMap() && e["reentry"]) {
      const YAML::Node re = e["reentry"];
      if (re.IsMap() && re["key"]) {
        j.reentry = Reentry::kKey;
        j.reentry_key = r.string(re["key"], "key").value_or("");
      } else if (re.IsScalar() && (re.Scalar() == "once" || re.Scalar() == "after_exit" || re.Scalar() == "always")) {
        j.reentry = re.Scalar() == "once" ? Reentry::kOnce : re.Scalar() == "always" ? Reentry::kAlways : Reentry::kAfterExit;
      } else {
        r.problem(re, "reentry must be once, after_exit, always or {key: <property path>}");
      }
    }
    if (e.IsMap() && e["day0"]) j.day0_trait = r.string(e["day0"], "day0").value_or("");
  }
  if (n["goal"]) j.goal = r.trigger(n["goal"], "goal", false);
  if (n["exit"]) j.exit = r.trigger(n["exit"], "exit", false);
  if (n["steps"]) {
    const YAML::Node steps = n["steps"];
    if (!steps.IsSequence() || steps.size() == 0) {
      r.problem(steps, "steps must be a non-empty list");
    } else {
      for (const auto& s : steps) {
        Step step;
        step.line = s.Mark().line + 1;
        step.column = s.Mark().column + 1;
        if (!r.is_map(s, "a step")) continue;
        if (!s["id"]) {
          r.problem(s, "a step needs an id");
          continue;
        }
        step.id = r.string(s["id"], "id").value_or("");
        if (j.step_index.count(step.id)) r.problem(s["id"], fmt::format("duplicate step id {}", q(step.id)));
        read_step(r, s, step);
        j.step_index.emplace(step.id, j.steps.size());
        j.steps.push_back(std::move(step));
      }
      // The graph checks would only repeat earlier problems (a broken step is not a path).
      if (problems.size() == before) check_graph(r, steps, j);
    }
  }
  if (problems.size() != before) return std::nullopt;
  return j;
}

std::optional<Journey> load_journey_file(const std::string& path, std::vector<Problem>& problems) {
  auto text = read_file(path);
  if (!text.is_ok()) {
    problems.push_back({path, 1, 1, "cannot read the file"});
    return std::nullopt;
  }
  return load_journey(path, *text, problems);
}

std::optional<Policies> load_policies_file(const std::string& path, std::vector<Problem>& problems) {
  auto text = read_file(path);
  if (!text.is_ok()) {
    problems.push_back({path, 1, 1, "cannot read the file"});
    return std::nullopt;
  }
  return load_policies(path, *text, problems);
}

std::optional<Policies> load_policies(const std::string& file, const std::string& text, std::vector<Problem>& problems) {
  size_t before = problems.size();
  auto root = parse_yaml(file, text, problems);
  if (!root) return std::nullopt;
  Policies p;
  Reader r(file, problems);
  if (root->IsNull()) return p;
  if (!r.is_map(*root, "policies")) return std::nullopt;
  const YAML::Node& n = *root;
  r.check_keys(n, {"timezone", "frequency_caps", "quiet_hours"}, "policies");
  if (n["timezone"]) r.time_zone(n["timezone"], "timezone", p.default_timezone);
  if (n["frequency_caps"]) {
    if (!n["frequency_caps"].IsSequence()) r.problem(n["frequency_caps"], "frequency_caps takes a list");
    else
      for (const auto& c : n["frequency_caps"]) {
        if (!r.is_map(c, "a frequency cap")) continue;
        r.check_keys(c, {"max", "per", "channel"}, "a frequency cap");
        FrequencyCap cap;
        Json max = c["max"] ? r.value(c["max"]) : Json();
        if (!max.is_number_integer() || max.get<int>() < 0) r.problem(c, "a frequency cap needs max: a whole number");
        else cap.max = max.get<int>();
        if (!c["per"]) r.problem(c, "a frequency cap needs per: a duration, e.g. 7d");
        else cap.per = r.duration(c["per"], "per").value_or(Millis(0));
        if (c["channel"]) {
          auto ch = r.string(c["channel"], "channel");
          if (ch == "email") cap.channel = Channel::kEmail;
          else if (ch == "sms") cap.channel = Channel::kSms;
          else if (ch == "webhook") cap.channel = Channel::kWebhook;
          else if (ch != "all") r.problem(c["channel"], "channel must be email, sms, webhook or all");
        }
        p.caps.push_back(cap);
      }
  }
  if (n["quiet_hours"]) {
    const YAML::Node q = n["quiet_hours"];
    if (r.is_map(q, "quiet_hours")) {
      r.check_keys(q, {"start", "end"}, "quiet_hours");
      auto start = q["start"] ? r.time_of_day(q["start"], "start") : std::nullopt;
      auto end = q["end"] ? r.time_of_day(q["end"], "end") : std::nullopt;
      if (!q["start"] || !q["end"]) r.problem(q, "quiet_hours needs start and end, e.g. start: \"21:00\", end: \"08:00\"");
      if (start && end) p.quiet_hours = std::make_pair(*start, *end);
    }
  }
  if (problems.size() != before) return std::nullopt;
  return p;
}

Result<Workspace> load_workspace(const std::string& dir, std::vector<Problem>& problems) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return invalid_argument(fmt::format("--journeys: {} is not a directory", dir));
  Workspace ws;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    if (f.stem() == "policies") {
      if (auto p = load_policies_file(f.string(), problems)) ws.policies = std::move(*p);
      continue;
    }
    if (f.stem() == "touchpoint") continue;  // the server's configuration (channels, tracking)
    if (auto j = load_journey_file(f.string(), problems)) ws.journeys.push_back(std::move(*j));
  }
  std::set<std::string> ids;
  for (const auto& j : ws.journeys)
    if (!ids.insert(j.id).second) problems.push_back({j.file, 1, 1, fmt::format("journey id {} is used by another file", q(j.id))});
  std::sort(ws.journeys.begin(), ws.journeys.end(), [](const Journey& a, const Journey& b) { return a.id < b.id; });
  return ws;
}

}  // namespace tp::journeys
