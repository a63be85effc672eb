// The journey engine: a deterministic function of (state, input, time) -> (state, effects).
//
// It keeps, per person, their traits, event history and journey instances, and a queue of
// timers. Input is Segment messages and the passage of time (advance_to); output is effects
// (enter, send, task, webhook, update, goal, exit, suppressed) in time order. The same engine
// runs in `touchpoint simulate` on a virtual clock; nothing in it reads the wall clock.
//
// Threading: an Engine is used by one thread at a time.
#pragma once

#include <date/tz.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "journeys/definition.h"
#include "journeys/loader.h"

namespace tp::journeys {

struct Effect {
  Timestamp time{};
  std::string user_id, journey, step, action;
  std::string channel, template_name, reason, assignee, trait;
  Json value;
  // One JSON object, keys in a fixed order: the simulation output line.
  std::string to_json() const;
};

using EffectSink = std::function<void(const Effect&)>;

class Engine {
 public:
  Engine(Workspace workspace, EffectSink sink);
  ~Engine();

  // Sets a person's traits before anything happens (simulate --profiles).
  void seed_traits(const std::string& user_id, const Json& traits);
  // A Segment message at time `now` (its own event time). Fires due timers first.
  void on_message(const Json& message, Timestamp now);
  // Fires every timer due at or before `t`, in time order.
  void advance_to(Timestamp t);
  std::optional<Timestamp> next_timer() const;

 private:
  struct Instance;
  struct Person;
  struct Timer {
    Timestamp due;
    std::uint64_t seq;
    std::uint64_t instance;
    std::uint64_t generation;  // a timer is stale once the instance moved on
    bool operator>(const Timer& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };

  Person& person(const std::string& user_id);
  void handle_track(Person& p, const Json& message, Timestamp now);
  void handle_identify(Person& p, const Json& traits, Timestamp now);
  void try_enter(Person& p, size_t journey, const Json* event, Timestamp now);
  void run(Instance& inst, Timestamp now);
  bool send(Instance& inst, const Step& step, Timestamp now);  // false: deferred by quiet hours
  void finish(Instance& inst, const std::string& step, Timestamp now);
  void schedule(Instance& inst, Timestamp due);
  void go_to(Instance& inst, const std::string& step_id);
  // To the explicit next step or the following one; past the last step the instance exits.
  void follow(Instance& inst, Timestamp now);
  void emit(Effect e);

  bool holds(const std::vector<Condition>& all, const Person& p, const Json* properties, const Instance* inst,
             Timestamp now) const;
  bool holds(const Condition& c, const Person& p, const Json* properties, const Instance* inst, Timestamp now) const;
  const date::time_zone* zone(const Person& p) const;
  Timestamp wait_until(const WaitUntil& w, const Person& p, const Instance& inst, Timestamp now) const;

  Workspace ws_;
  EffectSink sink_;
  const date::time_zone* default_zone_;
  std::unordered_map<std::string, std::unique_ptr<Person>> people_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Instance>> instances_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::uint64_t next_instance_ = 1;
  std::uint64_t next_timer_seq_ = 1;
};

// Local wall-clock time in `zone` to an instant: a time in a DST gap moves forward by the gap;
// an ambiguous time takes the first (earlier) instant.
Timestamp local_to_instant(const date::time_zone* zone, date::local_time<Millis> local);

}  // namespace tp::journeys
