#include "journeys/engine.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/json_text.h"
#include "base/time_format.h"

namespace tp::journeys {

struct Engine::Person {
  std::string user_id;
  Json traits = Json::object();
  struct Event {
    Timestamp time;
    std::string name;
    Json properties;
  };
  std::vector<Event> history;  // track events, in time order
  bool unsubscribed_event = false;
  std::vector<std::pair<Timestamp, Channel>> commercial_sends;
  std::vector<std::uint64_t> instances;      // active, in entry order
  std::vector<std::string> entered;          // journey ids ever entered (for reentry: once)
};

struct Engine::Instance {
  std::uint64_t id = 0;
  size_t journey = 0;
  Person* person = nullptr;
  std::string key;
  size_t step = 0;
  Timestamp day0{};
  Json entry_event;            // the message that started it
  bool waited = false;         // the current step's delay/wait_until is over
  bool waiting_for = false;    // in a wait_for, until an event or the timeout
  bool quiet_deferred = false; // the current send already waited out quiet hours
  bool done = false;
  std::uint64_t generation = 0;
};

namespace {

const Json* at_path(const Json& root, std::string_view path) {
  const Json* cur = &root;
  while (!path.empty()) {
    auto dot = path.find('.');
    std::string key(path.substr(0, dot));
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

bool less(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() < b.get<double>();
  if (a.is_string() && b.is_string()) return a.get<std::string>() < b.get<std::string>();
  return false;
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::optional<Timestamp> json_time(const Json* v) {
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return parse_iso8601(v->get<std::string>());
}

}  // namespace

Timestamp local_to_instant(const date::time_zone* zone, date::local_time<Millis> local) {
  auto info = zone->get_info(local);
  // unique: the one offset; nonexistent: the offset before the gap, which lands `gap` later;
  // ambiguous: the first offset, the earlier instant.
  return Timestamp(local.time_since_epoch() - std::chrono::duration_cast<Millis>(info.first.offset));
}

std::string Effect::to_json() const {
  std::string out = "{\"time\":\"";
  append_iso8601(out, time);
  out += "\",\"userId\":";
  append_json_string(out, user_id);
  out += ",\"journey\":";
  append_json_string(out, journey);
  out += ",\"step\":";
  append_json_string(out, step);
  out += ",\"action\":";
  append_json_string(out, action);
  auto field = [&](const char* key, const std::string& v) {
    if (v.empty()) return;
    out += ",\"";
    out += key;
    out += "\":";
    append_json_string(out, v);
  };
  field("channel", channel);
  field("template", template_name);
  field("reason", reason);
  field("assignee", assignee);
  field("trait", trait);
  if (!trait.empty()) {
    out += ",\"value\":";
    out += value.dump();
  }
  out += "}";
  return out;
}

Engine::Engine(Workspace workspace, EffectSink sink)
    : ws_(std::move(workspace)), sink_(std::move(sink)), default_zone_(date::locate_zone(ws_.policies.default_timezone)) {}

Engine::~Engine() = default;

Engine::Person& Engine::person(const std::string& user_id) {
  auto& slot = people_[user_id];
  if (!slot) {
    slot = std::make_unique<Person>();
    slot->user_id = user_id;
  }
  return *slot;
}

void Engine::seed_traits(const std::string& user_id, const Json& traits) {
  Person& p = person(user_id);
  for (auto it = traits.begin(); it != traits.end(); ++it) p.traits[it.key()] = it.value();
}

std::optional<Timestamp> Engine::next_timer() const {
  // Stale timers are dropped lazily; the earliest may be stale, which only makes a caller look
  // a little early.
  if (timers_.empty()) return std::nullopt;
  return timers_.top().due;
}

void Engine::advance_to(Timestamp t) {
  while (!timers_.empty() && timers_.top().due <= t) {
    Timer timer = timers_.top();
    timers_.pop();
    auto it = instances_.find(timer.instance);
    if (it == instances_.end()) continue;
    Instance& inst = *it->second;
    if (inst.done || inst.generation != timer.generation) continue;
    if (inst.waiting_for) {
      inst.waiting_for = false;
      const Step& step = ws_.journeys[inst.journey].steps[inst.step];
      if (!step.on_timeout.empty()) go_to(inst, step.on_timeout);
      else follow(inst, timer.due);
    } else {
      inst.waited = true;  // a delay, wait_until or quiet-hours deferral is over
    }
    run(inst, timer.due);
  }
}

void Engine::on_message(const Json& message, Timestamp now) {
  advance_to(now);
  std::string type = message.value("type", "");
  std::string user_id = message.contains("userId") && message["userId"].is_string() ? message["userId"].get<std::string>()
                        : message.value("anonymousId", "");
  Person& p = person(user_id);
  if (type == "identify") {
    static const Json kEmpty = Json::object();
    handle_identify(p, message.contains("traits") && message["traits"].is_object() ? message["traits"] : kEmpty, now);
  } else if (type == "track") {
    handle_track(p, message, now);
  }
}

void Engine::handle_identify(Person& p, const Json& traits, Timestamp now) {
  // Trait conditions that become true start (or finish) journeys.
  std::vector<bool> entry_before(ws_.journeys.size());
  for (size_t j = 0; j < ws_.journeys.size(); ++j)
    if (ws_.journeys[j].entry.becomes_true) entry_before[j] = holds(*ws_.journeys[j].entry.becomes_true, p, nullptr, nullptr, now);
  std::vector<std::pair<std::uint64_t, bool>> goal_before, exit_before;
  for (auto id : p.instances) {
    const Journey& j = ws_.journeys[instances_[id]->journey];
    goal_before.emplace_back(id, j.goal.becomes_true && holds(*j.goal.becomes_true, p, nullptr, nullptr, now));
    exit_before.emplace_back(id, j.exit.becomes_true && holds(*j.exit.becomes_true, p, nullptr, nullptr, now));
  }
  for (auto it = traits.begin(); it != traits.end(); ++it) p.traits[it.key()] = it.value();

  for (size_t i = 0; i < exit_before.size(); ++i) {
    Instance& inst = *instances_[exit_before[i].first];
    if (inst.done) continue;
    const Journey& j = ws_.journeys[inst.journey];
    if (j.exit.becomes_true && !exit_before[i].second && holds(*j.exit.becomes_true, p, nullptr, &inst, now)) {
      finish(inst, j.steps[inst.step].id, now);
      continue;
    }
    if (j.goal.becomes_true && !goal_before[i].second && holds(*j.goal.becomes_true, p, nullptr, &inst, now)) {
      emit({now, p.user_id, j.id, j.steps[inst.step].id, "goal"});
      finish(inst, j.steps[inst.step].id, now);
    }
  }
  for (size_t j = 0; j < ws_.journeys.size(); ++j) {
    const auto& entry = ws_.journeys[j].entry;
    if (entry.becomes_true && !entry_before[j] && holds(*entry.becomes_true, p, nullptr, nullptr, now))
      try_enter(p, j, nullptr, now);
  }
}

void Engine::handle_track(Person& p, const Json& message, Timestamp now) {
  std::string name = message.value("event", "");
  static const Json kNoProperties = Json::object();
  const Json& properties = message.contains("properties") && message["properties"].is_object() ? message["properties"]
                                                                                                : kNoProperties;
  p.history.push_back({now, name, properties});
  if (name == "Unsubscribed") p.unsubscribed_event = true;

  // Exit and goal act at once, also in the middle of a wait; then waits that this event answers.
  std::vector<std::uint64_t> active = p.instances;
  for (auto id : active) {
    Instance& inst = *instances_[id];
    if (inst.done) continue;
    const Journey& j = ws_.journeys[inst.journey];
    const std::string& at = j.steps[inst.step].id;
    if (!j.exit.event.empty() && j.exit.event == name && holds(j.exit.where, p, &properties, &inst, now)) {
      finish(inst, at, now);
      continue;
    }
    if (!j.goal.event.empty() && j.goal.event == name && holds(j.goal.where, p, &properties, &inst, now)) {
      emit({now, p.user_id, j.id, at, "goal"});
      finish(inst, at, now);
      continue;
    }
    if (!inst.waiting_for) continue;
    const Step& step = j.steps[inst.step];
    const WaitFor& w = step.wait_for;
    if (w.event != name) continue;
    if (!w.of.empty()) {
      // Engagement names the send it answers: properties.journey and properties.step.
      const Json* journey = at_path(properties, "journey");
      const Json* of_step = at_path(properties, "step");
      if (!journey || !of_step || !journey->is_string() || !of_step->is_string() || *journey != j.id) continue;
      if (std::find(w.of.begin(), w.of.end(), of_step->get<std::string>()) == w.of.end()) continue;
    }
    if (j.reentry == Reentry::kKey) {
      // With one instance per key, an answer that names its key goes to that instance only.
      std::string name = j.reentry_key.rfind("properties.", 0) == 0 ? j.reentry_key.substr(11) : j.reentry_key;
      const Json* theirs = at_path(properties, name);
      if (theirs && (theirs->is_string() ? theirs->get<std::string>() : theirs->dump()) != inst.key) continue;
    }
    if (!w.correlate.empty()) {
      const Json* mine = at_path(inst.entry_event, "properties." + w.correlate);
      const Json* theirs = at_path(properties, w.correlate);
      if (!mine || !theirs || *mine != *theirs) continue;
    }
    if (!holds(w.where, p, &properties, &inst, now)) continue;
    inst.waiting_for = false;
    ++inst.generation;  // cancels the timeout
    if (!step.on_event.empty()) go_to(inst, step.on_event);
    else follow(inst, now);
    run(inst, now);
  }

  for (size_t j = 0; j < ws_.journeys.size(); ++j) {
    const Trigger& entry = ws_.journeys[j].entry;
    if (entry.event.empty() || entry.event != name) continue;
    if (!holds(entry.where, p, &properties, nullptr, now)) continue;
    try_enter(p, j, &message, now);
  }
}

void Engine::try_enter(Person& p, size_t journey_index, const Json* event, Timestamp now) {
  const Journey& j = ws_.journeys[journey_index];
  if (j.status != "active") return;
  const Json* properties = event && event->contains("properties") ? &(*event)["properties"] : nullptr;
  if (!holds(j.audience, p, properties, nullptr, now)) return;
  std::string key;
  if (j.reentry == Reentry::kKey && event) {
    std::string path = j.reentry_key.rfind("properties.", 0) == 0 ? j.reentry_key : "properties." + j.reentry_key;
    if (const Json* v = at_path(*event, path)) key = v->is_string() ? v->get<std::string>() : v->dump();
  }
  bool entered_before = std::find(p.entered.begin(), p.entered.end(), j.id) != p.entered.end();
  bool active = false, active_same_key = false;
  for (auto id : p.instances) {
    const Instance& other = *instances_[id];
    if (other.journey != journey_index) continue;
    active = true;
    active_same_key = active_same_key || other.key == key;
  }
  switch (j.reentry) {
    case Reentry::kOnce:
      if (entered_before) return;
      break;
    case Reentry::kAfterExit:
      if (active) return;
      break;
    case Reentry::kKey:
      if (active_same_key) return;
      break;
    case Reentry::kAlways:
      break;
  }
  auto inst = std::make_unique<Instance>();
  inst->id = next_instance_++;
  inst->journey = journey_index;
  inst->person = &p;
  inst->key = key;
  inst->day0 = now;
  if (event) inst->entry_event = *event;
  if (!j.day0_trait.empty()) {
    if (auto t = json_time(at_path(p.traits, j.day0_trait))) inst->day0 = *t;
  }
  if (!entered_before) p.entered.push_back(j.id);
  p.instances.push_back(inst->id);
  Instance& ref = *inst;
  instances_.emplace(inst->id, std::move(inst));
  emit({now, p.user_id, j.id, j.steps.front().id, "enter"});
  run(ref, now);
}

void Engine::schedule(Instance& inst, Timestamp due) {
  timers_.push({due, next_timer_seq_++, inst.id, inst.generation});
}

void Engine::go_to(Instance& inst, const std::string& step_id) {
  const Journey& j = ws_.journeys[inst.journey];
  inst.step = j.step_index.at(step_id);
  inst.waited = false;
  inst.quiet_deferred = false;
  ++inst.generation;
}

void Engine::follow(Instance& inst, Timestamp now) {
  const Journey& j = ws_.journeys[inst.journey];
  const Step& step = j.steps[inst.step];
  if (!step.next.empty()) return go_to(inst, step.next);
  if (inst.step + 1 < j.steps.size()) {
    ++inst.step;
    inst.waited = false;
    inst.quiet_deferred = false;
    ++inst.generation;
    return;
  }
  finish(inst, step.id, now);  // past the last step
}

void Engine::finish(Instance& inst, const std::string& step, Timestamp now) {
  if (inst.done) return;
  inst.done = true;
  ++inst.generation;
  Person& p = *inst.person;
  p.instances.erase(std::remove(p.instances.begin(), p.instances.end(), inst.id), p.instances.end());
  emit({now, p.user_id, ws_.journeys[inst.journey].id, step, "exit"});
}

void Engine::run(Instance& inst, Timestamp now) {
  const Journey& j = ws_.journeys[inst.journey];
  Person& p = *inst.person;
  for (int guard = 0; guard < 10000 && !inst.done; ++guard) {
    const Step& step = j.steps[inst.step];
    if (!inst.waited && (step.delay || step.wait_until)) {
      inst.waited = true;
      Timestamp due = step.delay ? now + *step.delay : wait_until(*step.wait_until, p, inst, now);
      if (due > now) {
        inst.waited = false;
        ++inst.generation;
        schedule(inst, due);
        return;
      }
    }
    switch (step.kind) {
      case StepKind::kDelay:
      case StepKind::kWaitUntil:
        break;
      case StepKind::kSend:
      case StepKind::kWebhook:
        if (!send(inst, step, now)) return;  // deferred past quiet hours
        break;
      case StepKind::kTask: {
        const Json* owner = at_path(p.traits, "owner");
        std::string assignee = owner && owner->is_string() && !owner->get<std::string>().empty() ? owner->get<std::string>()
                                                                                                 : "unassigned";
        emit({now, p.user_id, j.id, step.id, "task", "", step.template_name, "", assignee});
        break;
      }
      case StepKind::kUpdate:
        for (const auto& u : step.updates) {
          Json value = u.set;
          if (u.increment) {
            const Json* old = at_path(p.traits, u.trait);
            double base = old && old->is_number() ? old->get<double>() : 0;
            double sum = base + *u.increment;
            value = sum == static_cast<double>(static_cast<long long>(sum)) ? Json(static_cast<long long>(sum)) : Json(sum);
          }
          p.traits[u.trait] = value;
          Effect e{now, p.user_id, j.id, step.id, "update"};
          e.trait = u.trait;
          e.value = value;
          emit(std::move(e));
        }
        break;
      case StepKind::kGoal:
        emit({now, p.user_id, j.id, step.id, "goal"});
        break;
      case StepKind::kExit:
        finish(inst, step.id, now);
        return;
      case StepKind::kWaitFor:
        inst.waiting_for = true;
        ++inst.generation;
        schedule(inst, now + step.wait_for.timeout);
        return;
      case StepKind::kBranch: {
        const Json* props = inst.entry_event.contains("properties") ? &inst.entry_event["properties"] : nullptr;
        std::string target = step.otherwise;
        for (const auto& arm : step.arms) {
          if (holds(arm.when, p, props, &inst, now)) {
            target = arm.next;
            break;
          }
        }
        if (!target.empty()) {
          go_to(inst, target);
          continue;
        }
        break;
      }
      case StepKind::kSplit: {
        double total = 0;
        for (const auto& arm : step.split) total += arm.weight;
        // Stable per person: the same person always lands in the same arm.
        double point = static_cast<double>(fnv1a(p.user_id + "/" + j.id + "/" + step.id) % 1000000) / 1e6 * total;
        const SplitArm* chosen = &step.split.back();
        for (const auto& arm : step.split) {
          if (point < arm.weight) {
            chosen = &arm;
            break;
          }
          point -= arm.weight;
        }
        if (chosen->holdout) {
          finish(inst, step.id, now);
          return;
        }
        go_to(inst, chosen->next);
        continue;
      }
    }
    follow(inst, now);  // past the last step the instance exits
  }
}

bool Engine::send(Instance& inst, const Step& step, Timestamp now) {
  const Journey& j = ws_.journeys[inst.journey];
  Person& p = *inst.person;
  SendType type = step.send_type.value_or(j.send_type);
  std::string_view channel = channel_name(step.channel);
  auto suppress = [&](const char* reason) {
    Effect e{now, p.user_id, j.id, step.id, "suppressed", std::string(channel), step.template_name, reason};
    emit(std::move(e));
  };
  if (type == SendType::kCommercial && ws_.policies.quiet_hours && !inst.quiet_deferred) {
    auto [start, end] = *ws_.policies.quiet_hours;
    const date::time_zone* tz = zone(p);
    auto local = tz->to_local(now);
    auto local_day = date::floor<date::days>(local);
    int minute = static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(local - local_day).count());
    bool quiet = start < end ? (minute >= start && minute < end) : (minute >= start || minute < end);
    if (quiet) {
      // Delay to the end of the window, then send (the other rules are checked then).
      auto end_today = local_to_instant(tz, date::local_time<Millis>(local_day.time_since_epoch()) + std::chrono::minutes(end));
      Timestamp due = end_today > now ? end_today
                                      : local_to_instant(tz, date::local_time<Millis>((local_day + date::days(1)).time_since_epoch()) +
                                                                 std::chrono::minutes(end));
      inst.quiet_deferred = true;
      ++inst.generation;
      schedule(inst, due);
      return false;
    }
  }
  if (type == SendType::kCommercial) {
    const Json* unsubscribed = at_path(p.traits, "unsubscribed");
    if (p.unsubscribed_event || (unsubscribed && *unsubscribed == Json(true))) {
      suppress("unsubscribed");
      return true;
    }
  }
  if (step.channel != Channel::kWebhook) {
    const Json* address = at_path(p.traits, step.channel == Channel::kEmail ? "email" : "phone");
    if (!address || !address->is_string() || address->get<std::string>().empty()) {
      suppress("no_address");
      return true;
    }
  }
  if (type == SendType::kCommercial) {
    for (const auto& cap : ws_.policies.caps) {
      int count = 0;
      for (const auto& [t, c] : p.commercial_sends)
        if (t > now - cap.per && (!cap.channel || *cap.channel == c)) ++count;
      if (count >= cap.max) {
        suppress("frequency_cap");
        return true;
      }
    }
    p.commercial_sends.emplace_back(now, step.channel);
  }
  Effect e{now, p.user_id, j.id, step.id, step.kind == StepKind::kWebhook ? "webhook" : "send"};
  if (step.kind == StepKind::kSend) e.channel = std::string(channel);
  e.template_name = step.template_name;
  emit(std::move(e));
  return true;
}

void Engine::emit(Effect e) { sink_(e); }

const date::time_zone* Engine::zone(const Person& p) const {
  const Json* tz = at_path(p.traits, "timezone");
  if (tz && tz->is_string()) {
    try {
      return date::locate_zone(tz->get<std::string>());
    } catch (const std::exception&) {
      // An unknown zone in a trait falls back to the workspace default.
    }
  }
  return default_zone_;
}

Timestamp Engine::wait_until(const WaitUntil& w, const Person& p, const Instance& inst, Timestamp now) const {
  const date::time_zone* tz = zone(p);
  auto at = [&](date::local_days day) {
    return local_to_instant(tz, date::local_time<Millis>(day.time_since_epoch()) + std::chrono::minutes(w.minutes));
  };
  if (!w.date_trait.empty()) {
    auto t = json_time(at_path(p.traits, w.date_trait));
    if (!t) return now;  // no such date: nothing to wait for
    auto day = date::floor<date::days>(tz->to_local(*t + w.offset));
    return at(day);
  }
  if (w.day) {
    auto day0 = date::floor<date::days>(tz->to_local(inst.day0));
    return at(day0 + date::days(*w.day));
  }
  auto today = date::floor<date::days>(tz->to_local(now));
  Timestamp candidate = at(today);
  return candidate >= now ? candidate : at(today + date::days(1));
}

bool Engine::holds(const std::vector<Condition>& all, const Person& p, const Json* properties, const Instance* inst,
                   Timestamp now) const {
  for (const auto& c : all)
    if (!holds(c, p, properties, inst, now)) return false;
  return true;
}

bool Engine::holds(const Condition& c, const Person& p, const Json* properties, const Instance* inst, Timestamp now) const {
  switch (c.kind) {
    case Condition::Kind::kAll:
      return holds(c.children, p, properties, inst, now);
    case Condition::Kind::kAny:
      for (const auto& child : c.children)
        if (holds(child, p, properties, inst, now)) return true;
      return false;
    case Condition::Kind::kNot:
      return !holds(c.children, p, properties, inst, now);
    case Condition::Kind::kDid: {
      bool found = false;
      for (auto it = p.history.rbegin(); it != p.history.rend() && !found; ++it) {
        if (it->time > now) continue;
        if (c.within && it->time < now - *c.within) break;
        if (c.since_day0 && inst && it->time < inst->day0) break;
        if (it->name != c.event) continue;
        bool match = true;
        for (const auto& w : c.event_where) match = match && holds(w, p, &it->properties, inst, now);
        found = match;
      }
      return found != c.negate;
    }
    case Condition::Kind::kCompare:
      break;
  }
  const Json* v = nullptr;
  if (c.path.rfind("traits.", 0) == 0) v = at_path(p.traits, c.path.substr(7));
  else if (c.path.rfind("properties.", 0) == 0) v = properties ? at_path(*properties, c.path.substr(11)) : nullptr;
  else if (c.path.rfind("event.", 0) == 0 && inst) v = at_path(inst->entry_event, c.path.substr(6));
  switch (c.op) {
    case Condition::Op::kExists: return v != nullptr && !v->is_null();
    case Condition::Op::kMissing: return v == nullptr || v->is_null();
    case Condition::Op::kEq: return v != nullptr && *v == c.value;
    case Condition::Op::kNe: return v == nullptr || *v != c.value;
    case Condition::Op::kLt: return v != nullptr && less(*v, c.value);
    case Condition::Op::kLe: return v != nullptr && (less(*v, c.value) || *v == c.value);
    case Condition::Op::kGt: return v != nullptr && less(c.value, *v);
    case Condition::Op::kGe: return v != nullptr && (less(c.value, *v) || *v == c.value);
    case Condition::Op::kIn: return v != nullptr && std::find(c.value.begin(), c.value.end(), *v) != c.value.end();
    case Condition::Op::kNotIn: return v == nullptr || std::find(c.value.begin(), c.value.end(), *v) == c.value.end();
    case Condition::Op::kContains:
      if (v == nullptr) return false;
      if (v->is_string() && c.value.is_string()) return v->get<std::string>().find(c.value.get<std::string>()) != std::string::npos;
      if (v->is_array()) return std::find(v->begin(), v->end(), c.value) != v->end();
      return false;
    case Condition::Op::kBetween:
      return v != nullptr && !less(*v, c.value[0]) && !less(c.value[1], *v) && (v->is_number() || v->is_string());
  }
  return false;
}

}  // namespace tp::journeys
