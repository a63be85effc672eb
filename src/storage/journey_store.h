// The journey store: what live mode keeps about running journeys, independent of the database
// behind it. Instance state, timers, the outbox of effects and the consumed position in the event
// log are written in one transaction, so a crash neither loses nor repeats a step.
//
// Embedded default: `<data>/journeys.db` (sqlite_journey_store.h), a database of its own so that
// the journey runner never waits for the ingestion writer's lock. Tables: docs/storage.md.
//
// Threading: thread-safe. At most one JourneyWrite exists at a time (begin_write blocks until the
// previous one is gone); it belongs to the thread that began it. Reads may run on any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "storage/sync.h"

namespace tp::storage {

struct JourneyVersionRow {
  std::string journey, version, file, source;
  Timestamp first_seen{};
};

// An effect as written to the outbox.
struct OutboxRow {
  std::int64_t seq = 0;  // assigned by the store
  std::string key;       // idempotency key: "<instance>:<step>:<n>"
  std::uint64_t instance = 0;
  std::string user_id, journey, step, action;
  Timestamp time{};
  // JSON: what the columns do not hold (channel, template, reason, assignee, trait/value,
  // commercial, event). Older rows repeat the columns in it.
  std::string body;
};

struct TaskRow {
  std::int64_t id = 0;
  std::string key, user_id, journey, step, template_name, assignee;
  Timestamp created{};
  std::optional<Timestamp> done;
};

// One message on its way to a provider (docs/delivery.md).
struct DeliveryRow {
  std::string key;  // the effect's idempotency key
  std::int64_t effect_seq = 0;
  std::string user_id, journey, step, channel, template_name;
  std::string status;  // pending | sending | delivered | failed
  int attempts = 0;
  Timestamp next_attempt{};
  std::string provider_id, last_error;
  Timestamp updated{};
  std::string effect_body;  // read only: the outbox row's body
};

struct StepCount {
  std::string step, metric;
  std::int64_t count = 0;
};

class JourneyWrite {
 public:
  virtual ~JourneyWrite() = default;
  virtual Status put_version(const JourneyVersionRow& row) = 0;
  virtual Status put_person(std::string_view user_id, std::string_view state) = 0;
  virtual Status put_instance(std::uint64_t id, std::string_view journey, std::string_view user_id,
                              std::string_view step, std::optional<Timestamp> due, std::string_view state) = 0;
  // The instance ended: it is no longer loaded. Its row goes later (JourneyStore::purge_finished).
  virtual Status delete_instance(std::uint64_t id) = 0;
  // GDPR erasure: the person's state, instances, outbox rows, deliveries and tasks.
  virtual Status delete_user(std::string_view user_id) = 0;
  // false when an effect with this key exists already (it is then not written again). An
  // instance's `enter` effect also records whose the instance is, for delete_user.
  virtual Result<bool> add_effect(const OutboxRow& row) = 0;
  virtual Status add_task(const TaskRow& row) = 0;
  virtual Status add_count(std::string_view journey, std::string_view step, std::string_view metric,
                           std::int64_t n) = 0;
  virtual Status set_meta(std::string_view name, std::int64_t value) = 0;
  // Inserts or replaces the delivery with this key.
  virtual Status put_delivery(const DeliveryRow& row) = 0;
  // Durable when it returns ok, unless the transaction began with Sync::kDeferred.
  virtual Status commit() = 0;
};

class JourneyStore {
 public:
  virtual ~JourneyStore() = default;

  // storage/sync.h. kDeferred is for the journey runner's steps, which it runs again from its
  // position in the event log (docs/storage.md, "Deferred runner commits").
  using Sync = storage::Sync;
  virtual Result<std::unique_ptr<JourneyWrite>> begin_write(Sync sync = Sync::kDurable) = 0;
  // In a transaction of its own: deletes the rows of up to `limit` ended instances, returns how
  // many. Housekeeping, not synced (a purge lost in a crash is done again).
  virtual Result<int> purge_finished(int limit) = 0;

  virtual Result<std::optional<std::int64_t>> meta(std::string_view name) = 0;
  virtual Result<std::vector<JourneyVersionRow>> versions() = 0;
  // Everything live mode needs to rebuild the engine, instances in id order.
  virtual Status load(const std::function<void(std::string_view user_id, std::string_view state)>& person,
                      const std::function<void(std::string_view state)>& instance) = 0;

  // Outbox rows with seq > `after`, in order; and the consumers' positions (e.g. "echo").
  virtual Result<std::vector<OutboxRow>> effects_after(std::int64_t after, int limit) = 0;

  virtual Result<std::vector<TaskRow>> open_tasks(std::optional<std::string> assignee, int limit) = 0;
  // Marks the task done (idempotent: an already closed task keeps its first time).
  virtual Result<std::optional<TaskRow>> complete_task(std::int64_t id, Timestamp now) = 0;

  // Pending deliveries due at `now`, the longest waiting first, with their outbox bodies.
  virtual Result<std::vector<DeliveryRow>> due_deliveries(Timestamp now, int limit) = 0;
  // Deliveries in `status` (e.g. "sending" after a crash, "failed": the dead-letter list).
  virtual Result<std::vector<DeliveryRow>> deliveries(std::string_view status, int limit) = 0;
  // The delivery a provider knows by `provider_id` (delivery receipts); nullopt when none.
  virtual Result<std::optional<DeliveryRow>> delivery_by_provider_id(std::string_view channel,
                                                                     std::string_view provider_id) = 0;
  // Failed deliveries (all, or the one with `key`) back to pending, due now. Returns how many.
  virtual Result<int> retry_failed(std::optional<std::string> key, Timestamp now) = 0;

  // The per-step counters and, as metric "waiting", the instances at each step now: one snapshot.
  virtual Result<std::vector<StepCount>> step_counts(std::string_view journey) = 0;
  // Active instances of `journey` per current step.
  virtual Result<std::vector<StepCount>> active_by_step(std::string_view journey) = 0;
};

}  // namespace tp::storage
