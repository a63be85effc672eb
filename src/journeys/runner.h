// Live mode: the journey engine on ingested events and the wall clock, made durable.
//
// The runner follows the event log (the profile store's events, in arrival order) and fires due
// timers. After every batch it writes, in one transaction of the journey store: the state of
// each person and instance the batch touched (with its pending timer), the effects as outbox
// rows with their idempotency key, per-step counters and the position in the event log. A crash
// loses at most an uncommitted batch, which is then done again from the same state, so every
// step happens exactly once. On start it rebuilds the engine from the store.
//
// Effects are echoed onto the customer card: each becomes a Segment message (an `update` an
// identify setting the trait, the rest a track event such as "Journey Message Sent") whose
// messageId is the effect's key, handed to `echo` (the profile writer). A crash before the
// echo is acknowledged sends it again at start; the messageId makes that harmless.
//
// Threading: one runner thread owns the Engine and the journey store's write side; notify(),
// erase() and stop() may be called from any thread. The workspace is fixed after create().
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <tuple>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "journeys/engine.h"
#include "storage/journey_store.h"
#include "storage/store.h"

namespace tp::journeys {

class Runner {
 public:
  // Hands Segment messages (JSON text) to the profile writer; `done(ok)` once they are durable.
  using Echo = std::function<void(std::vector<std::string> messages, std::function<void(bool ok)> done)>;

  struct Options {
    size_t batch = 2000;         // events per transaction
    size_t timer_batch = 10000;  // due timers per transaction (a backlog drains in large commits)
    // Called on the runner thread after each commit with the batch's effects (benchmarks).
    std::function<void(const std::vector<Effect>&)> committed;
  };

  static Result<std::unique_ptr<Runner>> create(Workspace workspace, storage::Store& events,
                                                storage::JourneyStore& store, const Clock& clock,
                                                MetricsRegistry& metrics, Echo echo, Options options);
  ~Runner();

  void start();
  // Finishes the batch in progress, then stops the thread.
  void stop();
  // New events are durable in the event log.
  void notify();
  // Forgets a person (after the profile store erased them); `done` on the runner thread.
  void erase(std::string user_id, std::function<void(Status)> done);

  // The current journey definitions (not the retired versions). Immutable.
  const std::vector<const Journey*>& journeys() const { return current_; }

  // Runs until nothing is due and the log is consumed (tests with a ManualClock).
  Status run_once();
  // Deletes the rows of every ended instance (the thread does it a chunk at a time when idle).
  Status purge_finished();

 private:
  Runner(storage::Store& events, storage::JourneyStore& store, const Clock& clock, MetricsRegistry& metrics,
         Echo echo, Options options);
  Status restore(Workspace& workspace);
  void loop();
  // One transaction's worth of work; true when more is waiting.
  Result<bool> step();
  Status persist(storage::JourneyWrite& tx, std::int64_t cursor);
  // One transaction deleting ended instances' rows; true when more remain.
  Result<bool> purge_chunk();
  void echo_pending();
  std::string echo_message(const storage::OutboxRow& row, storage::Reader& reader);

  storage::Store& events_;
  storage::JourneyStore& store_;
  const Clock& clock_;
  Echo echo_;
  Options options_;
  Counter& effects_total_;
  Counter& events_consumed_;
  Histogram& batch_seconds_;
  Gauge& active_instances_;

  std::unique_ptr<Engine> engine_;
  std::vector<const Journey*> current_;
  std::unique_ptr<storage::Reader> reader_;
  std::vector<Effect> effects_;  // of the batch in progress
  std::map<std::tuple<std::string, std::string, std::string>, std::int64_t> engagement_;  // of the batch
  std::int64_t cursor_ = 0;      // last event seq consumed
  std::int64_t echoed_ = 0;  // the echo position last persisted
  std::atomic<std::int64_t> echo_acked_{0};  // last outbox seq the profile store acknowledged
  std::atomic<bool> echo_in_flight_{false};
  // The count of the profile store's erased identities that restore() checked the people
  // against; written with the next commit (then the next start need not check again).
  std::optional<std::int64_t> erasures_checked_;
  // Ended instances whose rows are not purged yet: at least this many (1 after a start: unknown).
  std::int64_t unpurged_ = 1;
  bool quiet_ = false;         // the last sleep ended without new events

  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;  // GUARDED_BY(mu_)
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::deque<std::pair<std::string, std::function<void(Status)>>> erasures_;  // GUARDED_BY(mu_)
  std::thread thread_;
};

// Loads the journeys directory for live mode: the current files, plus every earlier version the
// store remembers (retired: they only finish the instances started on them).
Result<Workspace> load_live_workspace(const std::string& dir, storage::JourneyStore& store, Timestamp now,
                                      std::vector<Problem>& problems);

}  // namespace tp::journeys
