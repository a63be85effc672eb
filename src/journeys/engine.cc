#include "journeys/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "base/json_text.h"
#include "base/time_format.h"

namespace tp::journeys {
namespace {

// A string in 16 bytes: up to 15 characters inline (user ids, re-entry keys mostly are), longer
// ones on the heap. std::string takes 32 bytes, which millions of waiting instances feel.
class CompactString {
 public:
  CompactString() { set_inline_size(0); }
  explicit CompactString(std::string_view s) { assign(s); }
  CompactString(const CompactString& o) { assign(o.view()); }
  CompactString(CompactString&& o) noexcept {
    std::memcpy(bytes_, o.bytes_, sizeof bytes_);
    o.set_inline_size(0);
  }
  CompactString& operator=(const CompactString& o) {
    if (this != &o) {
      release();
      assign(o.view());
    }
    return *this;
  }
  CompactString& operator=(CompactString&& o) noexcept {
    if (this != &o) {
      release();
      std::memcpy(bytes_, o.bytes_, sizeof bytes_);
      o.set_inline_size(0);
    }
    return *this;
  }
  ~CompactString() { release(); }

  std::string_view view() const {
    if (on_heap()) {
      char* data;
      std::uint32_t size;
      std::memcpy(&data, bytes_, sizeof data);
      std::memcpy(&size, bytes_ + sizeof data, sizeof size);
      return {data, size};
    }
    return {bytes_, static_cast<size_t>(kInline - static_cast<unsigned char>(bytes_[kInline]))};
  }
  bool operator==(std::string_view o) const { return view() == o; }

 private:
  static constexpr size_t kInline = 15;
  static constexpr unsigned char kHeap = 0xFF;
  bool on_heap() const { return static_cast<unsigned char>(bytes_[kInline]) == kHeap; }
  void set_inline_size(size_t n) { bytes_[kInline] = static_cast<char>(kInline - n); }
  void assign(std::string_view s) {
    if (s.size() <= kInline) {
      if (!s.empty()) std::memcpy(bytes_, s.data(), s.size());  // an empty view may have no data
      set_inline_size(s.size());
      return;
    }
    char* data = new char[s.size()];
    std::memcpy(data, s.data(), s.size());
    auto size = static_cast<std::uint32_t>(s.size());
    std::memcpy(bytes_, &data, sizeof data);
    std::memcpy(bytes_ + sizeof data, &size, sizeof size);
    bytes_[kInline] = static_cast<char>(kHeap);
  }
  void release() {
    if (!on_heap()) return;
    char* data;
    std::memcpy(&data, bytes_, sizeof data);
    delete[] data;
    set_inline_size(0);
  }
  char bytes_[kInline + 1];
};

}  // namespace

// What the engine keeps of a person. Sized for millions of waiting instances: rarely used
// parts stay empty (no allocation) until needed.
struct Engine::Person {
  // What most people never need, allocated on first use.
  struct Cold {
    struct Event {
      Timestamp time;
      std::string name;
      Json properties;
    };
    std::vector<Event> history;  // track events some `did` condition asks about, in time order
    std::vector<std::pair<Timestamp, Channel>> commercial_sends;  // within the longest cap window
    std::vector<std::uint32_t> entered_more;  // journey id indexes >= 64 ever entered
    std::vector<std::pair<std::uint32_t, Timestamp>> date_due;  // journey -> planned date entry
    // context.consent.categoryPreferences as last sent: purpose -> granted.
    std::vector<std::pair<std::string, bool>> consent;
  };

  CompactString user_id;
  Json traits;  // null until the first trait
  std::unique_ptr<Cold> cold;
  std::uint64_t entered_mask = 0;     // journey id indexes < 64 ever entered (re-entry: once)
  // Active instances in entry order: the first one's slot + 1 (0: none), then
  // Instance::next_of_person. Slots rather than pointers: half the bytes, millions of times.
  std::uint32_t first = 0;
  std::uint32_t slot = 0;             // in people_
  std::uint32_t date_generation = 0;  // bumped when the dates are planned again
  bool unsubscribed_event = false;
  bool forgotten = false;

  Cold& more() {
    if (!cold) cold = std::make_unique<Cold>();
    return *cold;
  }
  const Cold& view() const {
    static const Cold kNone;
    return cold ? *cold : kNone;
  }
};

struct Engine::Instance {
  std::uint64_t id = 0;
  CompactString key;  // the re-entry key value
  // The entry message as JSON text; null when the journey never reads it.
  std::unique_ptr<const std::string> entry;
  Timestamp day0{};
  Timestamp due = kNoTimer;  // the pending timer
  std::uint32_t person = 0;          // slot in people_
  std::uint32_t next_of_person = 0;  // slot + 1 of the person's next active instance; 0: none
  std::uint16_t journey = 0, step = 0;
  std::uint32_t generation = 0;
  std::uint32_t effects = 0;        // effects emitted so far (for idempotency keys)
  bool waited : 1 = false;          // the current step's delay/wait_until is over
  bool waiting_for : 1 = false;     // in a wait_for, until an event or the timeout
  bool quiet_deferred : 1 = false;  // the current send already waited out quiet hours
  bool arrived : 1 = false;         // the current step has been counted as reached
  bool done : 1 = false;

  static constexpr Timestamp kNoTimer = Timestamp::max();
};

namespace {

const Json* at_path(const Json& root, std::string_view path) {
  const Json* cur = &root;
  while (!path.empty()) {
    auto dot = path.find('.');
    std::string_view key = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);  // transparent comparison: no string is built
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

bool less(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() < b.get<double>();
  if (a.is_string() && b.is_string()) return a.get_ref<const std::string&>() < b.get_ref<const std::string&>();
  return false;
}

// FNV-1a, continued over `s` from the hash `h` of what came before.
std::uint64_t fnv1a_continue(std::uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::optional<Timestamp> json_time(const Json* v) {
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return parse_iso8601(v->get_ref<const std::string&>());
}

std::int64_t ms(Timestamp t) { return t.time_since_epoch().count(); }
Timestamp from_ms(const Json& v) { return Timestamp(Millis(v.get<std::int64_t>())); }

// The event names that `did` conditions ask about: only those are kept in a person's history.
void collect_did(const Condition& c, std::unordered_set<std::string>& out) {
  if (c.kind == Condition::Kind::kDid) out.insert(c.event);
  for (const auto& child : c.children) collect_did(child, out);
}
void collect_did(const std::vector<Condition>& all, std::unordered_set<std::string>& out) {
  for (const auto& c : all) collect_did(c, out);
}

// The local calendar date a date trait names: a plain "YYYY-MM-DD" is that date wherever the
// person lives; a full timestamp is read in their time zone.
std::optional<date::local_days> local_date(const Json* v, const date::time_zone* tz) {
  if (v == nullptr || !v->is_string()) return std::nullopt;
  const std::string& text = v->get_ref<const std::string&>();
  auto t = parse_iso8601(text);
  if (!t) return std::nullopt;
  if (text.size() == 10) return date::local_days(date::floor<date::days>(*t).time_since_epoch());
  return date::floor<date::days>(tz->to_local(*t));
}

const std::string kApiEntryEvent = "Journey Entry Requested";
const Json kEmptyObject = Json::object();

// Does a condition read the entry message? `properties_too`: in a branch, `properties.` means
// the entry event's properties.
bool reads_entry(const Condition& c, bool properties_too) {
  if (c.path.rfind("event.", 0) == 0 || (properties_too && c.path.rfind("properties.", 0) == 0)) return true;
  for (const auto& child : c.children)
    if (reads_entry(child, properties_too)) return true;
  return false;
}
bool reads_entry(const std::vector<Condition>& all, bool properties_too) {
  return std::any_of(all.begin(), all.end(), [&](const Condition& c) { return reads_entry(c, properties_too); });
}

const std::string* as_string(const Json* v) {
  return v != nullptr && v->is_string() ? &v->get_ref<const std::string&>() : nullptr;
}

}  // namespace

Timestamp local_to_instant(const date::time_zone* zone, date::local_time<Millis> local) {
  auto info = zone->get_info(local);
  // unique: the one offset; nonexistent: the offset before the gap, which lands `gap` later;
  // ambiguous: the first offset, the earlier instant.
  return Timestamp(local.time_since_epoch() - std::chrono::duration_cast<Millis>(info.first.offset));
}

std::string Effect::to_json() const {
  std::string out;
  append_json(out);
  return out;
}

void Effect::append_json(std::string& out) const {
  using namespace std::string_view_literals;
  out.reserve(out.size() + 256);
  out += R"({"time":")"sv;
  append_iso8601(out, time);
  out += R"(","userId":)"sv;
  append_json_string(out, user_id);
  out += R"(,"journey":)"sv;
  append_json_string(out, journey);
  out += R"(,"step":)"sv;
  append_json_string(out, step);
  out += R"(,"action":)"sv;
  append_json_string(out, action);
  append_details_json(out);
  out += '}';
}

void Effect::append_details_json(std::string& out) const {
  using namespace std::string_view_literals;
  auto field = [&](std::string_view key, std::string_view v) {  // key: ,"name":
    if (v.empty()) return;
    out += key;
    append_json_string(out, v);
  };
  field(R"(,"channel":)"sv, channel);
  field(R"(,"template":)"sv, template_name);
  field(R"(,"reason":)"sv, reason);
  field(R"(,"assignee":)"sv, assignee);
  field(R"(,"trait":)"sv, trait);
  if (!trait.empty()) {
    out += R"(,"value":)"sv;
    if (value.is_string()) append_json_string(out, value.get_ref<const std::string&>());  // the same text, faster
    else out += value.dump();
  }
}

Engine::Engine(Workspace workspace, EffectSink sink)
    : ws_(std::move(workspace)), sink_(std::move(sink)), default_zone_(date::locate_zone(ws_.policies.default_timezone)) {
  std::vector<std::string> ids;
  std::unordered_set<std::string> history_events;  // event names some `did` condition asks about
  for (std::uint32_t index = 0; index < ws_.journeys.size(); ++index) {
    const Journey& j = ws_.journeys[index];
    auto id = std::find(ids.begin(), ids.end(), j.id);
    id_index_.push_back(static_cast<std::uint32_t>(id - ids.begin()));
    if (id == ids.end()) ids.push_back(j.id);
    if (!j.entry.event.empty() && !j.retired) events_[j.entry.event].entries.push_back(index);

    bool keeps = reads_entry(j.goal.where, false) || reads_entry(j.exit.where, false);
    for (const Trigger* t : {&j.entry, &j.goal, &j.exit}) {
      collect_did(t->where, history_events);
      if (t->becomes_true) {
        collect_did(*t->becomes_true, history_events);
        keeps = keeps || (t != &j.entry && reads_entry(*t->becomes_true, false));
      }
    }
    collect_did(j.audience, history_events);
    for (const Step& step : j.steps) {
      collect_did(step.wait_for.where, history_events);
      keeps = keeps || !step.wait_for.correlate.empty() || reads_entry(step.wait_for.where, false);
      for (const auto& arm : step.arms) {
        collect_did(arm.when, history_events);
        keeps = keeps || reads_entry(arm.when, true);
      }
    }
    keeps_entry_.push_back(keeps || ws_.keep_entry_events);
    has_becomes_ = has_becomes_ || j.entry.becomes_true || j.goal.becomes_true || j.exit.becomes_true;
    has_dates_ = has_dates_ || !j.entry.date_trait.empty();
  }
  for (const auto& name : history_events) events_[name].history = true;
}

Engine::~Engine() = default;

namespace {

size_t hash_of(std::string_view user_id) { return std::hash<std::string_view>{}(user_id); }

// The upper half of a hash, as it is kept in an index entry.
constexpr std::uint64_t kTagBits = ~std::uint64_t{0xFFFFFFFF};
std::uint64_t tag_of(size_t hash) { return static_cast<std::uint64_t>(hash) & kTagBits; }

}  // namespace

Engine::Person* Engine::find_person(std::string_view user_id) { return find_person(user_id, hash_of(user_id)); }

Engine::Person* Engine::find_person(std::string_view user_id, size_t hash) {
  if (index_.empty()) return nullptr;
  size_t mask = index_.size() - 1;
  std::uint64_t tag = tag_of(hash);
  for (size_t at = hash & mask;; at = (at + 1) & mask) {
    std::uint64_t entry = index_[at];
    if (entry == 0) return nullptr;
    if ((entry & kTagBits) != tag) continue;
    Person& p = people_[static_cast<std::uint32_t>(entry) - 1];
    if (p.user_id.view() == user_id) return &p;
  }
}

void Engine::index_person(std::uint32_t slot, size_t hash) {
  size_t mask = index_.size() - 1;
  size_t at = hash & mask;
  while (index_[at] != 0) at = (at + 1) & mask;
  index_[at] = tag_of(hash) | (std::uint64_t{slot} + 1);
}

Engine::Person& Engine::person(std::string_view user_id) {
  size_t hash = hash_of(user_id);
  if (Person* p = find_person(user_id, hash)) {
    p->forgotten = false;
    return *p;
  }
  // Open addressing, at most three quarters full: a probe reads 8-byte entries in a row, so a
  // fuller table costs little time, and at 10M people a half-full one was 27 B per person.
  if ((people_.size() + 1) * 4 > index_.size() * 3) {
    index_.assign(std::max<size_t>(1024, index_.size() * 2), 0);
    for (std::uint32_t slot = 0; slot < people_.size(); ++slot) index_person(slot, hash_of(people_[slot].user_id.view()));
  }
  Person& p = people_.emplace_back();
  p.user_id = CompactString(user_id);
  p.slot = static_cast<std::uint32_t>(people_.size() - 1);
  index_person(p.slot, hash);
  return p;
}

void Engine::seed_traits(const std::string& user_id, const Json& traits) {
  Person& p = person(user_id);
  for (auto it = traits.begin(); it != traits.end(); ++it) p.traits[it.key()] = it.value();
}

void Engine::touch(Person& p) {
  if (tracking_) dirty_people_.insert(&p);
}

void Engine::touch(Instance& inst) {
  if (tracking_) dirty_instances_.insert(inst.id);
}

void Engine::arrive(Instance& inst) {
  inst.arrived = true;
  ++steps_;
  if (tracking_) {
    const Journey& j = ws_.journeys[inst.journey];
    ++changes_.arrivals[{j.id, j.steps[inst.step].id}];
  }
}

Engine::Instance* Engine::find_instance(std::uint64_t id) {
  if (id >= slot_of_id_.size() || slot_of_id_[id] == 0) return nullptr;
  return &slab_[slot_of_id_[id] - 1];
}

Engine::Instance& Engine::new_instance(std::uint64_t id) {
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
    slab_[slot] = Instance{};
  } else {
    slot = static_cast<std::uint32_t>(slab_.size());
    slab_.emplace_back();
  }
  if (id >= slot_of_id_.size()) slot_of_id_.resize(std::max<size_t>(id + 1, slot_of_id_.size() * 3 / 2), 0);
  slot_of_id_[id] = slot + 1;
  ++active_;
  Instance& inst = slab_[slot];
  inst.id = id;
  return inst;
}

void Engine::free_instance(std::uint64_t id) {
  if (id >= slot_of_id_.size() || slot_of_id_[id] == 0) return;
  std::uint32_t slot = slot_of_id_[id] - 1;
  slot_of_id_[id] = 0;
  slab_[slot] = Instance{};  // releases its strings now
  free_slots_.push_back(slot);
  --active_;
}

Engine::Instance* Engine::first_of(const Person& p) { return p.first ? &slab_[p.first - 1] : nullptr; }

Engine::Instance* Engine::next_of(const Instance& inst) {
  return inst.next_of_person ? &slab_[inst.next_of_person - 1] : nullptr;
}

void Engine::link(Person& p, Instance& inst) {
  std::uint32_t* at = &p.first;
  while (*at) at = &slab_[*at - 1].next_of_person;
  *at = slot_of_id_[inst.id];
}

void Engine::unlink(Person& p, Instance& inst) {
  for (std::uint32_t* at = &p.first; *at; at = &slab_[*at - 1].next_of_person) {
    if (*at == slot_of_id_[inst.id]) {
      *at = inst.next_of_person;
      inst.next_of_person = 0;
      return;
    }
  }
}

void Engine::reap() {
  for (auto id : finished_) {
    free_instance(id);
    if (!dirty_instances_.empty()) dirty_instances_.erase(id);
    if (tracking_ && id < persisted_below_) changes_.finished.push_back(id);
  }
  finished_.clear();
}

bool Engine::entered(const Person& p, std::uint32_t journey) const {
  std::uint32_t id = id_index_[journey];
  if (id < 64) return (p.entered_mask >> id) & 1;
  const auto& more = p.view().entered_more;
  return std::find(more.begin(), more.end(), id) != more.end();
}

void Engine::mark_entered(Person& p, std::uint32_t journey) {
  std::uint32_t id = id_index_[journey];
  if (id < 64) p.entered_mask |= std::uint64_t{1} << id;
  else p.more().entered_more.push_back(id);
}

Json Engine::entry_of(const Instance& inst) const {
  return inst.entry ? Json::parse(*inst.entry) : Json::object();
}

std::optional<Timestamp> Engine::next_timer(bool include_dates) const {
  // Stale timers are dropped lazily; the earliest may be stale, which only makes a caller look
  // a little early.
  if (timers_.empty() || (!include_dates && instance_timers_ == 0)) return std::nullopt;
  return timers_.top().due;
}

size_t Engine::advance_to(Timestamp t, size_t limit) {
  size_t taken = 0;
  while (!timers_.empty() && timers_.top().due <= t && taken < limit) {
    Timer timer = timers_.top();
    timers_.pop();
    ++taken;
    auto generation = static_cast<std::uint32_t>(timer.seq_generation & 0xFFFFFF);
    if (timer.target & kDateTimer) {
      fire_date(static_cast<std::uint32_t>(timer.target), static_cast<std::uint32_t>((timer.target & ~kDateTimer) >> 32),
                generation, timer.due);
      continue;
    }
    --instance_timers_;
    Instance* found = find_instance(timer.target);
    if (found == nullptr) continue;
    Instance& inst = *found;
    if (inst.done || (inst.generation & 0xFFFFFF) != generation) continue;
    inst.due = Instance::kNoTimer;
    touch(inst);
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
  reap();
  return taken;
}

Engine::Message::Message(const Json& message) {
  if (!message.is_object()) return;
  using namespace std::string_view_literals;
  for (const auto& [name, value] : message.get_ref<const Json::object_t&>()) {
    // By size first: one comparison per key (two for the size 6), not a chain of them.
    std::string_view key = name;
    auto is = [&](std::string_view want) { return std::memcmp(key.data(), want.data(), want.size()) == 0; };
    switch (key.size()) {
      case 4: if (is("type"sv)) type = &value; break;
      case 5: if (is("event"sv)) event = &value; break;
      case 6:
        if (is("userId"sv)) user_id = &value;
        else if (is("traits"sv)) traits = &value;
        break;
      case 7: if (is("context"sv)) context = &value; break;
      case 9: if (is("timestamp"sv)) timestamp = &value; break;
      case 10: if (is("properties"sv)) properties = &value; break;
      case 11: if (is("anonymousId"sv)) anonymous_id = &value; break;
      default: break;
    }
  }
}

// Segment's consent object on a message (the preference page sends one): each purpose's choice
// replaces the one before.
void Engine::record_consent(Person& p, const Message& message) {
  const Json* preferences = message.context ? at_path(*message.context, "consent.categoryPreferences") : nullptr;
  if (!preferences || !preferences->is_object() || preferences->empty()) return;
  auto& consent = p.more().consent;
  for (auto it = preferences->begin(); it != preferences->end(); ++it) {
    if (!it.value().is_boolean()) continue;
    auto known = std::find_if(consent.begin(), consent.end(), [&](const auto& c) { return c.first == it.key(); });
    if (known == consent.end()) consent.emplace_back(it.key(), it.value().get<bool>());
    else known->second = it.value().get<bool>();
  }
  touch(p);
}

void Engine::on_message(const Json& json, Timestamp now) { handle_message(json, false, now); }

void Engine::on_message(Json&& json, Timestamp now) { handle_message(json, true, now); }

void Engine::handle_message(const Json& json, bool owned, Timestamp now) {
  advance_to(now);
  const Message message(json);
  const std::string* type = as_string(message.type);
  const std::string* user_id = as_string(message.user_id);
  if (user_id == nullptr) user_id = as_string(message.anonymous_id);
  if (type == nullptr || user_id == nullptr) return;
  if (*type == "identify") {
    Person& p = person(*user_id);
    // A person is persisted when what is kept of them changes: traits, history, consent,
    // sends, journeys entered, planned dates.
    touch(p);
    record_consent(p, message);
    const Json* traits = message.traits;
    bool object = traits != nullptr && traits->is_object();
    handle_identify(p, object ? *traits : kEmptyObject, owned && object, now);
  } else if (*type == "track") {
    const std::string* name = as_string(message.event);
    if (name == nullptr) return;
    // Only people something can happen to are kept: an event that starts, answers or is
    // remembered for nothing leaves no trace.
    Person* existing = find_person(*user_id);
    auto found = events_.find(std::string_view(*name));
    const EventUse* use = found != events_.end() ? &found->second : nullptr;
    bool relevant = existing || use || *name == "Unsubscribed" || *name == kApiEntryEvent;
    if (relevant) {
      Person& p = existing ? *existing : person(*user_id);
      record_consent(p, message);
      handle_track(p, message, *name, use, now);
    }
  }
  reap();
}

void Engine::handle_identify(Person& p, const Json& traits, bool owned, Timestamp now) {
  // A message handed over is the caller's no more: its traits move instead of being copied.
  Json* movable = owned ? const_cast<Json*>(&traits) : nullptr;
  // Trait conditions that become true start (or finish) journeys. Most workspaces have none:
  // then nothing is evaluated or allocated here.
  std::vector<bool> entry_before;
  if (has_becomes_) {
    entry_before.resize(ws_.journeys.size());
    for (size_t j = 0; j < ws_.journeys.size(); ++j)
      if (ws_.journeys[j].entry.becomes_true) entry_before[j] = holds(*ws_.journeys[j].entry.becomes_true, p, nullptr, nullptr, now);
  }
  std::vector<std::pair<std::uint64_t, bool>> goal_before, exit_before;
  for (Instance* i = has_becomes_ ? first_of(p) : nullptr; i; i = next_of(*i)) {
    const Journey& j = ws_.journeys[i->journey];
    std::uint64_t id = i->id;
    goal_before.emplace_back(id, j.goal.becomes_true && holds(*j.goal.becomes_true, p, nullptr, nullptr, now));
    exit_before.emplace_back(id, j.exit.becomes_true && holds(*j.exit.becomes_true, p, nullptr, nullptr, now));
  }
  // Subscribing again (the preference page sets unsubscribed: false) undoes an Unsubscribed event.
  if (p.unsubscribed_event) {
    auto unsubscribed = traits.find("unsubscribed");
    if (unsubscribed != traits.end() && *unsubscribed == Json(false)) p.unsubscribed_event = false;
  }
  bool dates_changed = false;
  if (!has_dates_ && !traits.empty() && (p.traits.is_null() || (p.traits.is_object() && p.traits.empty()))) {
    // A person's first traits (most identifies): the object is moved or copied whole, which
    // beats searching and rebalancing the tree key by key. Without date triggers there is
    // no old value to compare.
    dates_changed = traits.contains("timezone") && !p.view().date_due.empty();
    if (movable) p.traits = std::move(*movable);
    else p.traits = traits;
  } else {
    for (auto it = traits.begin(); it != traits.end(); ++it) {
      for (const Journey& j : ws_.journeys) {
        if (!has_dates_ || j.entry.date_trait != it.key()) continue;
        const Json* old = at_path(p.traits, it.key());
        dates_changed = dates_changed || !old || *old != it.value();
      }
      if (it.key() == "timezone") dates_changed = dates_changed || !p.view().date_due.empty();
      if (movable) p.traits[it.key()] = std::move(const_cast<Json&>(it.value()));
      else p.traits[it.key()] = it.value();
    }
  }
  if (dates_changed) plan_dates(p, now);

  for (size_t i = 0; i < exit_before.size(); ++i) {
    Instance& inst = *find_instance(exit_before[i].first);
    if (inst.done) continue;
    const Journey& j = ws_.journeys[inst.journey];
    if (j.exit.becomes_true && !exit_before[i].second && holds(*j.exit.becomes_true, p, nullptr, &inst, now)) {
      finish(inst, j.steps[inst.step].id, now);
      continue;
    }
    if (j.goal.becomes_true && !goal_before[i].second && holds(*j.goal.becomes_true, p, nullptr, &inst, now)) {
      emit(inst, {now, {}, j.id, j.steps[inst.step].id, "goal"});
      finish(inst, j.steps[inst.step].id, now);
    }
  }
  for (std::uint32_t j = 0; has_becomes_ && j < ws_.journeys.size(); ++j) {
    const auto& entry = ws_.journeys[j].entry;
    if (entry.becomes_true && !entry_before[j] && holds(*entry.becomes_true, p, nullptr, nullptr, now))
      try_enter(p, j, nullptr, now);
  }
}

void Engine::handle_track(Person& p, const Message& message, const std::string& name, const EventUse* use,
                          Timestamp now) {
  const Json& properties =
      message.properties != nullptr && message.properties->is_object() ? *message.properties : kEmptyObject;
  if (use && use->history) {
    p.more().history.push_back({now, name, properties});
    touch(p);
  }
  if (name == "Unsubscribed" && !p.unsubscribed_event) {
    p.unsubscribed_event = true;
    touch(p);
  }
  if (name == kApiEntryEvent) {
    // An `api` entry (POST /api/v1/journeys/{id}/enter arrives as this event).
    const Json* journey = at_path(properties, "journey");
    for (std::uint32_t j = 0; journey && journey->is_string() && j < ws_.journeys.size(); ++j)
      if (ws_.journeys[j].id == *journey && ws_.journeys[j].entry.api && !ws_.journeys[j].retired) try_enter(p, j, &message, now);
  }

  // Exit and goal act at once, also in the middle of a wait; then waits that this event answers.
  if (p.first != 0) {
    // A copy: instances finish (and leave the list) while the event is handled. A person has
    // an instance or two, so the copy stays on the stack unless there are many.
    size_t count = 0;
    for (Instance* i = first_of(p); i; i = next_of(*i)) ++count;
    Instance* on_stack[8];
    std::vector<Instance*> on_heap;
    Instance** active = on_stack;
    if (count > std::size(on_stack)) {
      on_heap.resize(count);
      active = on_heap.data();
    }
    count = 0;
    for (Instance* i = first_of(p); i; i = next_of(*i)) active[count++] = i;
    for (size_t each = 0; each < count; ++each) {
      Instance& inst = *active[each];
      if (inst.done) continue;
      const Journey& j = ws_.journeys[inst.journey];
      const std::string& at = j.steps[inst.step].id;
      if (!j.exit.event.empty() && j.exit.event == name && holds(j.exit.where, p, &properties, &inst, now)) {
        finish(inst, at, now);
        continue;
      }
      if (!j.goal.event.empty() && j.goal.event == name && holds(j.goal.where, p, &properties, &inst, now)) {
        emit(inst, {now, {}, j.id, at, "goal"});
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
        if (!journey || !of_step || !journey->is_string() || !of_step->is_string() ||
            journey->get_ref<const std::string&>() != j.id)  // a Json == string would copy the string
          continue;
        if (std::find(w.of.begin(), w.of.end(), of_step->get_ref<const std::string&>()) == w.of.end()) continue;
      }
      if (j.reentry == Reentry::kKey) {
        // With one instance per key, an answer that names its key goes to that instance only.
        std::string_view key_path = j.reentry_key;
        if (key_path.rfind("properties.", 0) == 0) key_path.remove_prefix(11);
        const Json* theirs = at_path(properties, key_path);
        if (theirs && (theirs->is_string() ? std::string_view(theirs->get_ref<const std::string&>())
                                           : std::string_view(theirs->dump())) != inst.key.view())
          continue;
      }
      if (!w.correlate.empty()) {
        Json entry = entry_of(inst);
        const Json* mine = at_path(entry, "properties." + w.correlate);
        const Json* theirs = at_path(properties, w.correlate);
        if (!mine || !theirs || *mine != *theirs) continue;
      }
      if (!holds(w.where, p, &properties, &inst, now)) continue;
      inst.waiting_for = false;
      ++inst.generation;  // cancels the timeout
      inst.due = Instance::kNoTimer;
      if (!step.on_event.empty()) go_to(inst, step.on_event);
      else follow(inst, now);
      run(inst, now);
    }
  }

  if (!use) return;
  for (std::uint32_t j : use->entries) {
    if (!holds(ws_.journeys[j].entry.where, p, &properties, nullptr, now)) continue;
    try_enter(p, j, &message, now);
  }
}

void Engine::try_enter(Person& p, std::uint32_t journey_index, const Message* event, Timestamp now) {
  const Journey& j = ws_.journeys[journey_index];
  if (j.status != "active" || j.retired) return;
  const Json* properties = event ? event->properties : nullptr;
  if (!holds(j.audience, p, properties, nullptr, now)) return;
  std::string_view key;
  std::string dumped;  // a key that is not a string: its JSON text
  if (j.reentry == Reentry::kKey && event) {
    // "properties.x" is read from the message's properties; a bare path too.
    std::string_view path = j.reentry_key;
    if (path.rfind("properties.", 0) == 0) path.remove_prefix(11);
    const Json* v = properties ? at_path(*properties, path) : nullptr;
    if (v) key = v->is_string() ? std::string_view(v->get_ref<const std::string&>()) : std::string_view(dumped = v->dump());
  }
  bool entered_before = entered(p, journey_index);
  bool active = false, active_same_key = false;
  for (const Instance* i = first_of(p); i; i = next_of(*i)) {
    const Instance& other = *i;
    if (id_index_[other.journey] != id_index_[journey_index]) continue;
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
  std::uint64_t id = next_instance_++;
  Instance& inst = new_instance(id);
  inst.journey = static_cast<std::uint16_t>(journey_index);
  inst.person = p.slot;
  inst.key = CompactString(key);
  inst.day0 = now;
  if (event) {
    // Day 0 is the entry event's own time (live mode processes it a little later).
    if (auto t = json_time(event->timestamp); t && *t < now) inst.day0 = *t;
    if (keeps_entry_[journey_index]) {
      // What steps may read of the entry message (event.<field>, correlation, branches): its
      // name, properties and time; context and ids are not kept with every waiting instance.
      Json entry = Json::object();
      for (auto [field, value] : {std::pair{"type", event->type}, std::pair{"event", event->event},
                                  std::pair{"properties", event->properties}, std::pair{"timestamp", event->timestamp}})
        if (value) entry[field] = *value;
      inst.entry = std::make_unique<const std::string>(entry.dump());
    }
  }
  if (!entered_before) {
    mark_entered(p, journey_index);
    touch(p);
  }
  link(p, inst);
  touch(inst);
  count_at_step(inst, +1);
  emit(inst, {now, {}, j.id, j.steps.front().id, "enter"});
  run(inst, now);
}

void Engine::schedule(Instance& inst, Timestamp due) {
  inst.due = due;
  push_timer(due, inst.generation, inst.id);
  ++instance_timers_;
}

void Engine::count_at_step(const Instance& inst, std::int64_t delta) {
  if (tracking_) at_step_[std::uint32_t{inst.journey} << 16 | inst.step] += delta;
}

void Engine::move_to(Instance& inst, std::uint32_t step) {
  count_at_step(inst, -1);
  inst.step = static_cast<std::uint16_t>(step);
  count_at_step(inst, +1);
  inst.waited = false;
  inst.quiet_deferred = false;
  inst.arrived = false;
  inst.due = Instance::kNoTimer;
  ++inst.generation;
}

void Engine::go_to(Instance& inst, const std::string& step_id) {
  move_to(inst, static_cast<std::uint32_t>(ws_.journeys[inst.journey].step_index.at(step_id)));
}

void Engine::follow(Instance& inst, Timestamp now) {
  const Journey& j = ws_.journeys[inst.journey];
  const Step& step = j.steps[inst.step];
  if (!step.next.empty()) return go_to(inst, step.next);
  if (inst.step + 1u < j.steps.size()) return move_to(inst, inst.step + 1);
  finish(inst, step.id, now);  // past the last step
}

void Engine::finish(Instance& inst, std::string_view step, Timestamp now) {
  if (inst.done) return;
  inst.done = true;
  ++inst.generation;
  inst.due = Instance::kNoTimer;
  count_at_step(inst, -1);
  Person& p = people_[inst.person];
  unlink(p, inst);
  emit(inst, {now, {}, ws_.journeys[inst.journey].id, step, "exit"});
  finished_.push_back(inst.id);
}

void Engine::run(Instance& inst, Timestamp now) {
  const Journey& j = ws_.journeys[inst.journey];
  Person& p = people_[inst.person];
  touch(inst);
  for (int guard = 0; guard < 10000 && !inst.done; ++guard) {
    const Step& step = j.steps[inst.step];
    if (!inst.arrived) arrive(inst);
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
        Effect e{now, {}, j.id, step.id, "task", "", step.template_name};
        e.assignee = owner && owner->is_string() && !owner->get_ref<const std::string&>().empty()
                         ? owner->get<std::string>()
                         : "unassigned";
        emit(inst, std::move(e));
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
          touch(p);
          Effect e{now, {}, j.id, step.id, "update"};
          e.trait = u.trait;
          e.value = std::move(value);
          emit(inst, std::move(e));
        }
        break;
      case StepKind::kGoal:
        emit(inst, {now, {}, j.id, step.id, "goal"});
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
        Json entry = entry_of(inst);
        auto props = entry.find("properties");
        std::string target = step.otherwise;
        for (const auto& arm : step.arms) {
          if (holds(arm.when, p, props != entry.end() ? &*props : nullptr, &inst, now)) {
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
        std::uint64_t h = 1469598103934665603ULL;
        for (std::string_view part : {p.user_id.view(), std::string_view("/"), std::string_view(j.id),
                                      std::string_view("/"), std::string_view(step.id)})
          h = fnv1a_continue(h, part);
        double point = static_cast<double>(h % 1000000) / 1e6 * total;
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
  Person& p = people_[inst.person];
  SendType type = step.send_type.value_or(j.send_type);
  std::string_view channel = channel_name(step.channel);
  auto suppress = [&](const char* reason) {
    emit(inst, {now, {}, j.id, step.id, "suppressed", channel, step.template_name, reason});
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
    const auto& consent = p.view().consent;
    bool opted_out = !j.consent.empty() && std::any_of(consent.begin(), consent.end(), [&](const auto& c) {
      return c.first == j.consent && !c.second;
    });
    if (p.unsubscribed_event || (unsubscribed && *unsubscribed == Json(true)) || opted_out) {
      suppress("unsubscribed");
      return true;
    }
  }
  if (step.channel != Channel::kWebhook) {
    const Json* address = at_path(p.traits, step.channel == Channel::kEmail ? "email" : "phone");
    // An email address that bounced hard or complained is not used again (docs/tracking.md).
    const Json* email_status = step.channel == Channel::kEmail ? at_path(p.traits, "email_status") : nullptr;
    bool unusable = email_status && (*email_status == "bounced" || *email_status == "complained");
    if (!address || !address->is_string() || address->get_ref<const std::string&>().empty() || unusable) {
      suppress("no_address");
      return true;
    }
  }
  if (type == SendType::kCommercial) {
    // Sends older than the longest cap window no longer count.
    Millis longest{0};
    for (const auto& cap : ws_.policies.caps) longest = std::max(longest, cap.per);
    if (p.cold && std::erase_if(p.cold->commercial_sends, [&](const auto& s) { return s.first <= now - longest; }) > 0)
      touch(p);
    for (const auto& cap : ws_.policies.caps) {
      int count = 0;
      for (const auto& [t, c] : p.view().commercial_sends)
        if (t > now - cap.per && (!cap.channel || *cap.channel == c)) ++count;
      if (count >= cap.max) {
        suppress("frequency_cap");
        return true;
      }
    }
    p.more().commercial_sends.emplace_back(now, step.channel);
    touch(p);
  }
  Effect e{now, {}, j.id, step.id, step.kind == StepKind::kWebhook ? "webhook" : "send"};
  if (step.kind == StepKind::kSend) e.channel = channel;
  e.template_name = step.template_name;
  e.commercial = type == SendType::kCommercial;
  emit(inst, std::move(e));
  return true;
}

void Engine::emit(Instance& inst, Effect e) {
  e.user_id = people_[inst.person].user_id.view();
  e.instance = inst.id;
  if (inst.entry && (e.action == "send" || e.action == "webhook")) e.entry = *inst.entry;
  if (tracking_) e.key = fmt::format("{}:{}:{}", inst.id, e.step, inst.effects);
  ++inst.effects;
  touch(inst);
  sink_(e);
}

std::optional<Timestamp> Engine::next_date(const Trigger& t, const Person& p, Timestamp now) const {
  const date::time_zone* tz = zone(p);
  auto day = local_date(at_path(p.traits, t.date_trait), tz);
  if (!day) return std::nullopt;
  auto at = [&](date::local_days d) {
    // The offset moves the day (e.g. -30d); the time of day is `at`.
    auto shifted = date::floor<date::days>(date::local_time<Millis>(d.time_since_epoch()) + t.date_offset);
    return local_to_instant(tz, date::local_time<Millis>(shifted.time_since_epoch()) + std::chrono::minutes(t.at_minutes));
  };
  if (t.yearly) {
    date::year_month_day ymd{*day};
    auto this_year = date::year_month_day{date::floor<date::days>(tz->to_local(now))}.year();
    for (auto y = this_year - date::years(1); y <= this_year + date::years(1); y += date::years(1)) {
      date::year_month_day candidate{y, ymd.month(), ymd.day()};
      if (!candidate.ok()) candidate = date::year_month_day{date::year_month_day_last{y, date::month_day_last{ymd.month()}}};
      Timestamp moment = at(date::local_days(candidate));
      if (moment >= now) return moment;
    }
    return std::nullopt;
  }
  Timestamp moment = at(*day);
  if (moment >= now) return moment;
  // Learnt too late for the planned moment, but the date itself is still ahead: enter now.
  Timestamp the_day = local_to_instant(tz, date::local_time<Millis>(day->time_since_epoch()) + date::days(1));
  if (the_day > now) return now;
  return std::nullopt;
}

void Engine::push_date(Person& p, std::uint32_t journey, Timestamp due) {
  p.more().date_due.emplace_back(journey, due);
  push_timer(due, p.date_generation, kDateTimer | std::uint64_t{journey} << 32 | p.slot);
}

void Engine::push_timer(Timestamp due, std::uint32_t generation, std::uint64_t target) {
  timers_.push({due, next_timer_seq_++ << 24 | (generation & 0xFFFFFF), target});
}

void Engine::plan_dates(Person& p, Timestamp now) {
  ++p.date_generation;
  if (p.cold) p.cold->date_due.clear();
  for (std::uint32_t j = 0; j < ws_.journeys.size(); ++j) {
    const Journey& journey = ws_.journeys[j];
    if (journey.entry.date_trait.empty() || journey.retired) continue;
    if (auto due = next_date(journey.entry, p, now)) push_date(p, j, *due);
  }
  touch(p);
}

void Engine::fire_date(std::uint32_t person_slot, std::uint32_t journey, std::uint32_t generation, Timestamp now) {
  Person& p = people_[person_slot];
  if (generation != (p.date_generation & 0xFFFFFF) || p.forgotten) return;
  if (!p.cold) return;
  auto& planned = p.cold->date_due;
  auto it = std::find_if(planned.begin(), planned.end(), [&](const auto& d) { return d.first == journey; });
  if (it == planned.end()) return;
  planned.erase(it);
  touch(p);
  try_enter(p, journey, nullptr, now);
  const Trigger& t = ws_.journeys[journey].entry;
  if (t.yearly) {
    if (auto due = next_date(t, p, now + Millis(1))) push_date(p, journey, *due);
  }
}

void Engine::forget(const std::string& user_id) {
  Person* found = find_person(user_id);
  if (found == nullptr) return;
  Person& p = *found;
  for (Instance* i = first_of(p); i;) {
    Instance* next = next_of(*i);
    std::uint64_t id = i->id;
    count_at_step(*i, -1);
    free_instance(id);
    dirty_instances_.erase(id);
    if (tracking_ && id < persisted_below_) changes_.finished.push_back(id);
    i = next;
  }
  dirty_people_.erase(&p);
  // Pending date timers still point at the person: they stay, emptied, and the timers are stale.
  std::uint32_t generation = p.date_generation + 1;
  std::uint32_t slot = p.slot;
  p = Person{};
  p.user_id = CompactString(user_id);
  p.slot = slot;
  p.date_generation = generation;
  p.forgotten = true;
}

Changes Engine::take_changes() {
  for (Person* p : dirty_people_) changes_.people.emplace_back(std::string(p->user_id.view()), person_state(*p));
  for (auto id : dirty_instances_) {
    if (Instance* inst = find_instance(id)) changes_.instances.push_back(instance_state(*inst));
  }
  for (auto [where, delta] : at_step_) {
    const Journey& j = ws_.journeys[where >> 16];
    if (delta != 0) changes_.at_step[{j.id, j.steps[where & 0xFFFF].id}] += delta;
  }
  at_step_.clear();
  dirty_people_.clear();
  dirty_instances_.clear();
  persisted_below_ = next_instance_;
  Changes out = std::move(changes_);
  changes_ = Changes{};
  return out;
}

Json Engine::person_state(const Person& p) const {
  Json history = Json::array();
  for (const auto& e : p.view().history) history.push_back({ms(e.time), e.name, e.properties});
  Json sends = Json::array();
  for (const auto& [t, c] : p.view().commercial_sends) sends.push_back({ms(t), static_cast<int>(c)});
  Json consent = Json::object();
  for (const auto& [purpose, granted] : p.view().consent) consent[purpose] = granted;
  Json dates = Json::object();
  for (const auto& [j, due] : p.view().date_due) dates[ws_.journeys[j].id] = ms(due);
  Json entered_ids = Json::array();
  for (std::uint32_t j = 0; j < ws_.journeys.size(); ++j) {
    bool first_of_id = std::find(id_index_.begin(), id_index_.begin() + j, id_index_[j]) == id_index_.begin() + j;
    if (first_of_id && entered(p, j)) entered_ids.push_back(ws_.journeys[j].id);
  }
  Json state = {{"traits", p.traits.is_object() ? p.traits : Json::object()},
                {"history", std::move(history)},
                {"unsubscribed", p.unsubscribed_event},
                {"sends", std::move(sends)},
                {"entered", std::move(entered_ids)},
                {"dates", std::move(dates)}};
  if (!consent.empty()) state["consent"] = std::move(consent);
  return state;
}

void Engine::restore_person(const std::string& user_id, const Json& state) {
  Person& p = person(user_id);
  if (auto traits = state.find("traits"); traits != state.end() && traits->is_object() && !traits->empty()) p.traits = *traits;
  const Json history = state.value("history", Json::array());
  for (const auto& e : history) p.more().history.push_back({from_ms(e[0]), e[1], e[2]});
  p.unsubscribed_event = state.value("unsubscribed", false);
  if (auto consent = state.find("consent"); consent != state.end() && consent->is_object())
    for (const auto& [purpose, granted] : consent->items())
      if (granted.is_boolean()) p.more().consent.emplace_back(purpose, granted.get<bool>());
  const Json sends = state.value("sends", Json::array());
  for (const auto& s : sends) p.more().commercial_sends.emplace_back(from_ms(s[0]), static_cast<Channel>(s[1].get<int>()));
  const Json entered_ids = state.value("entered", Json::array());
  for (const auto& id : entered_ids) {
    for (std::uint32_t j = 0; j < ws_.journeys.size(); ++j)
      if (ws_.journeys[j].id == id && !entered(p, j)) mark_entered(p, j);
  }
  const Json dates = state.value("dates", Json::object());
  for (const auto& [id, due] : dates.items()) {
    for (std::uint32_t j = 0; j < ws_.journeys.size(); ++j)
      if (ws_.journeys[j].id == id && !ws_.journeys[j].retired) push_date(p, j, from_ms(due));
  }
}

Json Engine::instance_state(const Instance& inst) const {
  const Journey& j = ws_.journeys[inst.journey];
  return {{"id", inst.id},
          {"journey", j.id},
          {"version", j.version},
          {"user", people_[inst.person].user_id.view()},
          {"key", inst.key.view()},
          {"step", j.steps[inst.step].id},
          {"day0", ms(inst.day0)},
          {"entry", inst.entry ? Json::parse(*inst.entry) : Json()},
          {"waited", inst.waited},
          {"waiting_for", inst.waiting_for},
          {"quiet_deferred", inst.quiet_deferred},
          {"arrived", inst.arrived},
          {"generation", inst.generation},
          {"due", inst.due != Instance::kNoTimer ? Json(ms(inst.due)) : Json()},
          {"effects", inst.effects}};
}

Status Engine::restore_instance(const Json& state) {
  std::string journey = state.at("journey"), version = state.at("version");
  std::uint32_t index = static_cast<std::uint32_t>(ws_.journeys.size());
  for (std::uint32_t j = 0; j < ws_.journeys.size(); ++j)
    if (ws_.journeys[j].id == journey && ws_.journeys[j].version == version) index = j;
  if (index == ws_.journeys.size())
    return not_found(fmt::format("instance {}: journey {} version {} is not loaded", state.at("id").dump(), journey, version));
  const Journey& j = ws_.journeys[index];
  auto step = j.step_index.find(state.at("step").get<std::string>());
  if (step == j.step_index.end())
    return not_found(fmt::format("instance {}: journey {} has no step {}", state.at("id").dump(), journey, state.at("step").dump()));
  std::uint64_t id = state.at("id");
  if (find_instance(id)) return invalid_argument(fmt::format("instance {} is restored twice", id));
  Instance& inst = new_instance(id);
  inst.journey = static_cast<std::uint16_t>(index);
  inst.person = person(state.at("user").get<std::string>()).slot;
  inst.key = CompactString(state.value("key", ""));
  inst.step = static_cast<std::uint16_t>(step->second);
  inst.day0 = from_ms(state.at("day0"));
  if (auto entry = state.find("entry"); entry != state.end() && entry->is_object()) inst.entry = std::make_unique<const std::string>(entry->dump());
  inst.waited = state.value("waited", false);
  inst.waiting_for = state.value("waiting_for", false);
  inst.quiet_deferred = state.value("quiet_deferred", false);
  inst.arrived = state.value("arrived", false);
  inst.generation = state.value("generation", std::uint32_t{0});
  inst.effects = state.value("effects", std::uint32_t{0});
  if (auto due = state.find("due"); due != state.end() && !due->is_null()) schedule(inst, from_ms(*due));
  next_instance_ = std::max(next_instance_, id + 1);
  persisted_below_ = std::max(persisted_below_, id + 1);  // it has a row
  link(people_[inst.person], inst);
  return Status::ok();
}

const date::time_zone* Engine::zone(const Person& p) const {
  const Json* tz = at_path(p.traits, "timezone");
  if (tz && tz->is_string()) {
    // An unknown zone in a trait falls back to the workspace default.
    if (const date::time_zone* found = zone_named(tz->get_ref<const std::string&>())) return found;
  }
  return default_zone_;
}

const date::time_zone* Engine::zone_named(const std::string& name) const {
  if (auto it = zones_.find(name); it != zones_.end()) return it->second;
  try {
    const date::time_zone* found = date::locate_zone(name);
    // Only real zones are remembered (a few hundred at most); a trait can hold any text.
    zones_.emplace(name, found);
    return found;
  } catch (const std::exception&) {
    return nullptr;
  }
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
      const auto& history = p.view().history;
      for (auto it = history.rbegin(); it != history.rend() && !found; ++it) {
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
  Json entry;
  std::string_view path = c.path;  // views: no string is built per evaluation
  if (path.rfind("traits.", 0) == 0) v = at_path(p.traits, path.substr(7));
  else if (path.rfind("properties.", 0) == 0) v = properties ? at_path(*properties, path.substr(11)) : nullptr;
  else if (c.path.rfind("event.", 0) == 0 && inst) {
    entry = entry_of(*inst);
    v = at_path(entry, path.substr(6));
  }
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
