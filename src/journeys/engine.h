// The journey engine: a deterministic function of (state, input, time) -> (state, effects).
//
// It keeps, per person, their traits, event history and journey instances, and a queue of
// timers. Input is Segment messages and the passage of time (advance_to); output is effects
// (enter, send, task, webhook, update, goal, exit, suppressed) in time order. The same engine
// runs in `touchpoint simulate` on a virtual clock; nothing in it reads the wall clock.
//
// Live mode (runner.h) persists the engine: with change tracking on, every call records which
// people and instances it touched, and take_changes() hands their serialised state over so the
// caller can write it in the same transaction as the effects. restore_*() rebuild the engine
// from that state after a restart.
//
// Threading: an Engine is used by one thread at a time.
#pragma once

#include <date/tz.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "journeys/definition.h"
#include "journeys/loader.h"
#include "journeys/timer_queue.h"

namespace tp::journeys {

// An array of T in fixed chunks: elements never move, and there is no per-element overhead.
template <typename T>
class ChunkedArray {
 public:
  T& operator[](size_t i) { return chunks_[i >> kShift][i & (kChunk - 1)]; }
  const T& operator[](size_t i) const { return chunks_[i >> kShift][i & (kChunk - 1)]; }
  size_t size() const { return size_; }
  T& emplace_back() {
    if (size_ == chunks_.size() * kChunk) chunks_.push_back(std::make_unique<T[]>(kChunk));
    return (*this)[size_++];
  }

 private:
  static constexpr size_t kShift = 10, kChunk = size_t{1} << kShift;
  std::vector<std::unique_ptr<T[]>> chunks_;
  size_t size_ = 0;
};

// One effect. The string views point into the engine's workspace and person table: valid until
// the engine is destroyed (or, for user_id, the person is forgotten).
struct Effect {
  Timestamp time{};
  std::string_view user_id, journey, step, action;
  std::string_view channel, template_name, reason, trait;
  std::string assignee;
  Json value;
  std::uint64_t instance = 0;
  std::string entry;  // sends and webhooks: the instance's entry message as JSON text, when kept
  bool commercial = false;  // a send or webhook under commercial rules
  // The idempotency key: "<instance>:<step>:<n>" for the instance's n-th effect. Stable across
  // restarts, so a step that is retried is recognised and never done twice. Set with change
  // tracking on.
  std::string key;
  // One JSON object, keys in a fixed order: the simulation output line.
  std::string to_json() const;
  void append_json(std::string& out) const;
  // What only some actions have (channel, template, reason, assignee, trait and value), each as
  // `,"name":value`.
  void append_details_json(std::string& out) const;
};

using EffectSink = std::function<void(const Effect&)>;

// What a call changed, for the caller to persist (with tracking on).
struct Changes {
  std::vector<std::pair<std::string, Json>> people;  // user id, person state
  std::vector<Json> instances;                       // instance state (active ones)
  std::vector<std::uint64_t> finished;               // instances that ended: delete them
  std::map<std::pair<std::string, std::string>, std::int64_t> arrivals;  // (journey, step) -> count
  // (journey, step) -> change in the number of instances at the step (the stats' `waiting`).
  std::map<std::pair<std::string, std::string>, std::int64_t> at_step;
  bool empty() const {
    return people.empty() && instances.empty() && finished.empty() && arrivals.empty() && at_step.empty();
  }
};

class Engine {
 public:
  Engine(Workspace workspace, EffectSink sink);
  ~Engine();

  // Sets a person's traits before anything happens (simulate --profiles).
  void seed_traits(const std::string& user_id, const Json& traits);
  // A Segment message at time `now` (its own event time). Fires due timers first.
  void on_message(const Json& message, Timestamp now);
  // The same for a message the caller hands over: what the engine keeps of it (an identify's
  // traits) is moved, not copied.
  void on_message(Json&& message, Timestamp now);
  // Fires every timer due at or before `t`, in time order; with `limit`, at most that many
  // (then more may be due). Returns how many timers it took off the queue.
  size_t advance_to(Timestamp t, size_t limit = SIZE_MAX);
  // The earliest pending timer. Without `include_dates`, nullopt once no instance has a timer
  // (planned date-trigger entries alone, e.g. yearly birthdays, would never run out).
  std::optional<Timestamp> next_timer(bool include_dates = true) const;

  // Forgets a person and their instances (GDPR erasure); their ids land in the changes.
  void forget(const std::string& user_id);

  // Persistence (live mode).
  void track_changes(bool on) { tracking_ = on; }
  Changes take_changes();
  void restore_person(const std::string& user_id, const Json& state);
  // Fails when the instance's journey version is not in the workspace.
  Status restore_instance(const Json& state);
  std::uint64_t next_instance_id() const { return next_instance_; }
  void set_next_instance_id(std::uint64_t id) {
    next_instance_ = std::max(next_instance_, id);
    persisted_below_ = next_instance_;
  }
  size_t active_instances() const { return active_; }
  // Journey steps executed so far: each time an instance arrives at a step (send, wait_for,
  // delay, branch, exit, ...), counted once per arrival however often the step is resumed (a
  // wait's timer, a quiet-hours deferral). Entering, goals and exits by event are not steps.
  std::uint64_t steps_executed() const { return steps_; }
  const Workspace& workspace() const { return ws_; }

 private:
  struct Instance;
  struct Person;
  static constexpr std::uint32_t kInstanceTimer = UINT32_MAX;
  // 24 bytes: millions of them wait in the queue.
  struct Timer {
    Timestamp due;
    // The insertion order (ties of `due` fire in it) above 24 bits of the generation: a timer
    // is stale once the instance (or the person's dates) moved on.
    std::uint64_t seq_generation;
    // An instance timer: the instance id. A date-trigger timer: kDateTimer | journey << 32 |
    // the person's slot.
    std::uint64_t target;
    bool operator>(const Timer& o) const {
      return due != o.due ? due > o.due : seq_generation > o.seq_generation;
    }
  };
  static constexpr std::uint64_t kDateTimer = std::uint64_t{1} << 63;
  void push_timer(Timestamp due, std::uint32_t generation, std::uint64_t target);

  // The fields of a Segment message that the engine reads, as they are in the message (any
  // JSON type); null when absent. Found in one pass over its keys: each find() in nlohmann's
  // std::map is a walk of string comparisons, and a message used to be searched a dozen times.
  struct Message {
    const Json* type = nullptr;
    const Json* user_id = nullptr;
    const Json* anonymous_id = nullptr;
    const Json* event = nullptr;
    const Json* properties = nullptr;
    const Json* traits = nullptr;
    const Json* timestamp = nullptr;
    const Json* context = nullptr;
    explicit Message(const Json& message);
  };

  void record_consent(Person& p, const Message& message);
  Person& person(std::string_view user_id);  // found or created
  Person* find_person(std::string_view user_id);
  Person* find_person(std::string_view user_id, size_t hash);
  void index_person(std::uint32_t slot, size_t hash);
  struct EventUse;
  void handle_message(const Json& json, bool owned, Timestamp now);
  void handle_track(Person& p, const Message& message, const std::string& name, const EventUse* use, Timestamp now);
  // `owned`: `traits` belongs to a message handed over, and may be moved from.
  void handle_identify(Person& p, const Json& traits, bool owned, Timestamp now);
  void try_enter(Person& p, std::uint32_t journey, const Message* event, Timestamp now);
  void run(Instance& inst, Timestamp now);
  bool send(Instance& inst, const Step& step, Timestamp now);  // false: deferred by quiet hours
  void finish(Instance& inst, std::string_view step, Timestamp now);
  void schedule(Instance& inst, Timestamp due);
  void go_to(Instance& inst, const std::string& step_id);
  void move_to(Instance& inst, std::uint32_t step);
  void count_at_step(const Instance& inst, std::int64_t delta);
  // To the explicit next step or the following one; past the last step the instance exits.
  void follow(Instance& inst, Timestamp now);
  void emit(Instance& inst, Effect e);
  void touch(Person& p);
  void touch(Instance& inst);
  void arrive(Instance& inst);
  // Date triggers: (re)plans the person's next entry moment for every journey with a date entry.
  void plan_dates(Person& p, Timestamp now);
  void push_date(Person& p, std::uint32_t journey, Timestamp due);
  std::optional<Timestamp> next_date(const Trigger& t, const Person& p, Timestamp now) const;
  void fire_date(std::uint32_t person_slot, std::uint32_t journey, std::uint32_t generation, Timestamp now);
  void reap();
  Instance* find_instance(std::uint64_t id);
  Instance& new_instance(std::uint64_t id);
  void free_instance(std::uint64_t id);
  Instance* first_of(const Person& p);
  Instance* next_of(const Instance& inst);
  void link(Person& p, Instance& inst);    // appends to the person's active instances
  void unlink(Person& p, Instance& inst);
  bool entered(const Person& p, std::uint32_t journey) const;
  void mark_entered(Person& p, std::uint32_t journey);
  Json entry_of(const Instance& inst) const;
  Json instance_state(const Instance& inst) const;
  Json person_state(const Person& p) const;

  bool holds(const std::vector<Condition>& all, const Person& p, const Json* properties, const Instance* inst,
             Timestamp now) const;
  bool holds(const Condition& c, const Person& p, const Json* properties, const Instance* inst, Timestamp now) const;
  const date::time_zone* zone(const Person& p) const;
  const date::time_zone* zone_named(const std::string& name) const;
  Timestamp wait_until(const WaitUntil& w, const Person& p, const Instance& inst, Timestamp now) const;

  Workspace ws_;
  EffectSink sink_;
  const date::time_zone* default_zone_;
  // Per journey (index into ws_.journeys): the index of its id among the distinct ids (versions
  // share it), and whether any step reads the entry message (else it is not kept).
  std::vector<std::uint32_t> id_index_;
  std::vector<bool> keeps_entry_;
  bool has_becomes_ = false;  // some trigger is a trait condition becoming true
  bool has_dates_ = false;    // some entry is a date trigger
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // What the workspace does with a track event of a name: one lookup per message.
  struct EventUse {
    std::vector<std::uint32_t> entries;  // journeys it starts
    bool history = false;                // some `did` condition asks about it: kept in history
  };
  std::unordered_map<std::string, EventUse, NameHash, std::equal_to<>> events_;
  // Time zones by name, null for a name that is not one. date::locate_zone() is a binary search
  // of string comparisons over the whole database, and every wait and commercial send asks.
  mutable std::unordered_map<std::string, const date::time_zone*, NameHash, std::equal_to<>> zones_;

  // People in slots (stable addresses; never erased, only emptied) found through an
  // open-addressing index. An entry is the upper 32 bits of the user id's hash above slot + 1
  // (0: empty): a probe passes other people's entries on their hash bits, without reading
  // their slot, which would be a cache miss each (most of the cost of finding a person).
  ChunkedArray<Person> people_;
  std::vector<std::uint64_t> index_;
  // Instances live in slots with a free list; ids map to slots.
  ChunkedArray<Instance> slab_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<std::uint32_t> slot_of_id_;  // id -> slot + 1; 0: no such active instance
  size_t active_ = 0;
  std::uint64_t steps_ = 0;
  TimerQueue<Timer> timers_;
  std::uint64_t next_instance_ = 1;
  // Instances with a smaller id may have rows in the store: they were handed over by an earlier
  // take_changes() or restored. One that starts and ends between two take_changes() has none, so
  // Changes::finished leaves it out.
  std::uint64_t persisted_below_ = 1;
  std::uint64_t next_timer_seq_ = 1;
  size_t instance_timers_ = 0;        // instance timers in timers_, stale ones included
  std::vector<std::uint64_t> finished_;  // ended in this call; erased by reap()

  bool tracking_ = false;
  std::unordered_set<Person*> dirty_people_;
  std::unordered_set<std::uint64_t> dirty_instances_;
  Changes changes_;
  std::map<std::uint32_t, std::int64_t> at_step_;  // journey index << 16 | step index -> change
};

// Local wall-clock time in `zone` to an instant: a time in a DST gap moves forward by the gap;
// an ambiguous time takes the first (earlier) instant.
Timestamp local_to_instant(const date::time_zone* zone, date::local_time<Millis> local);

}  // namespace tp::journeys
