// A journey as the engine runs it: parsed and validated from a YAML file (loader.h).
// The file format is specified in docs/journeys.md.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"

namespace tp::journeys {

using Json = nlohmann::json;

enum class SendType { kTransactional, kCommercial };
enum class Channel { kEmail, kSms, kWebhook };
enum class Reentry { kOnce, kAfterExit, kAlways, kKey };

// A condition on the person's traits, the current event and their event history.
struct Condition {
  enum class Kind { kAll, kAny, kNot, kCompare, kDid };
  enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn, kExists, kMissing, kContains, kBetween };
  Kind kind = Kind::kAll;
  std::vector<Condition> children;  // kAll, kAny, kNot (one child)
  // kCompare: `path` is "traits.x", "properties.x" (the current event) or "event.x".
  std::string path;
  Op op = Op::kEq;
  Json value;
  // kDid: the person did `event` (optionally with property conditions) in a window.
  std::string event;
  bool negate = false;                    // "not_did"
  std::optional<Millis> within;           // in the last N
  bool since_day0 = false;                // since the instance's day 0
  std::vector<Condition> event_where;     // on that event's properties
};

// What starts a journey, reaches its goal or makes an instance exit.
struct Trigger {
  std::string description;
  std::string event;                       // a track event name; "" when not an event trigger
  std::vector<Condition> where;            // all must hold (on the event and traits)
  std::optional<Condition> becomes_true;   // a trait condition turning from false to true
  // A date relative to a trait: `offset` before (negative) or after it, at `at` local time.
  std::string date_trait;
  Millis date_offset{0};
  bool yearly = false;
  int at_minutes = 9 * 60;                 // minutes after local midnight
  bool api = false;                        // POST /api/v1/journeys/{id}/enter
};

// "Wait until" a moment in the customer's local time.
struct WaitUntil {
  std::optional<int> day;       // day N after day 0 (local date); nullopt: the next time `minutes` comes
  int minutes = 0;              // local time of day
  std::string date_trait;       // or: a date trait plus `offset`
  Millis offset{0};
};

struct WaitFor {
  std::string event;
  std::vector<std::string> of;     // answers to these send steps (properties.journey/step)
  std::vector<Condition> where;
  std::string correlate;           // a property that must equal the entry event's
  Millis timeout{0};
};

struct TraitUpdate {
  std::string trait;
  Json set;                  // set to this value, or
  std::optional<double> increment;
};

struct BranchArm {
  std::vector<Condition> when;  // all must hold
  std::string next;
};

struct SplitArm {
  double weight = 0;
  std::string next;  // "" with holdout
  bool holdout = false;
};

enum class StepKind { kSend, kTask, kUpdate, kDelay, kWaitUntil, kWaitFor, kBranch, kSplit, kGoal, kExit, kWebhook };

struct Step {
  std::string id;
  int line = 0, column = 0;
  StepKind kind = StepKind::kExit;
  // A wait before the step's action (a delay/wait_until step is only the wait).
  std::optional<Millis> delay;
  std::optional<WaitUntil> wait_until;
  // send / webhook / task
  Channel channel = Channel::kEmail;
  std::string template_name;
  std::optional<SendType> send_type;
  // update
  std::vector<TraitUpdate> updates;
  // wait_for
  WaitFor wait_for;
  std::string on_event, on_timeout;
  // branch / split
  std::vector<BranchArm> arms;
  std::string otherwise;
  std::vector<SplitArm> split;
  std::string next;  // explicit next step; "" = the following one
};

struct Journey {
  std::string file;
  std::string id, name, purpose, audience_text, data_source, follow_up, owner, status = "active";
  int priority = 2;
  SendType send_type = SendType::kCommercial;
  // The consent purpose (a Segment categoryPreferences key, a preference-page purpose) its
  // commercial sends need; "" = only the general unsubscribe applies.
  std::string consent;
  Trigger entry, goal, exit;
  std::vector<Condition> audience;   // all must hold at entry
  Reentry reentry = Reentry::kOnce;
  std::string reentry_key;           // path, with Reentry::kKey
  std::string day0_trait;            // day 0 from a trait instead of the entry event's time
  std::vector<Step> steps;
  std::map<std::string, size_t> step_index;
  std::string version;               // content hash of the file
  std::string source;                // the file's text (live mode keeps every version it ran)
  // An earlier version kept so that instances started on it finish on it; it takes no entries.
  bool retired = false;
};

struct FrequencyCap {
  int max = 0;
  Millis per{0};
  std::optional<Channel> channel;  // nullopt: all channels
};

struct Policies {
  std::string default_timezone = "UTC";
  std::vector<FrequencyCap> caps;
  std::optional<std::pair<int, int>> quiet_hours;  // local minutes [start, end), may wrap midnight
};

std::string_view channel_name(Channel c);

}  // namespace tp::journeys
