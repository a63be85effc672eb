// ProfileWriter: applies ingested messages to the customer records, durably, in group commits.
//
// Every accepted message becomes one event on one profile's timeline; identify/alias/any
// message carrying both ids links identities and may merge profiles (rules in
// docs/identity.md); identify sets traits (per trait, the later event time wins); group
// records the organisation; context.consent.categoryPreferences sets consent.
//
// Two modes. Without an intake log (import, tests) every request is applied and committed before
// it is answered. With one (serve; storage/intake_log.h) a request is durable, and may be
// acknowledged, as soon as it is in the log; it is applied to the store in the background, in
// commits as large as the backlog, and the store records how far the log has been applied, so a
// restart applies the rest (docs/storage.md, "Intake log").
//
// Threading: the public methods may be called from any thread. One applier thread owns the write
// transaction: it takes everything waiting, applies it in one transaction and commits once, so
// many requests share one fsync. With a log, an appender thread writes and fsyncs the log in
// groups the same way. Callbacks run on those threads; they must be quick and must not call back
// into the writer synchronously.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "ingest/message.h"
#include "storage/intake_log.h"
#include "storage/store.h"

namespace tp::profiles {

// The keyed hash by which an erased identity is remembered, never the id itself: HMAC-SHA256
// under the store's "erasure_salt" secret. The journey runner checks its people against it too.
std::string erasure_hash(std::string_view salt, storage::IdentityKind kind, std::string_view value);

struct WriteOutcome {
  Status status;
  int stored = 0;      // new events written
  int duplicates = 0;  // messageIds seen before: acknowledged and ignored
  int erased = 0;      // messages of erased people: acknowledged and dropped
};

class ProfileWriter {
 public:
  using Done = std::function<void(const WriteOutcome&)>;

  // `log`, when given, must outlive the writer.
  static Result<std::unique_ptr<ProfileWriter>> create(storage::Store& store, const Clock& clock,
                                                       MetricsRegistry& metrics, storage::IntakeLog* log = nullptr);
  ~ProfileWriter();

  // Called on the writer (applier) thread after every commit, once its writes are visible to
  // readers (e.g. to wake the journey runner).
  // Set before start(); must be quick.
  void set_on_commit(std::function<void()> f) { on_commit_ = std::move(f); }

  void start();
  // Applies everything already submitted, then stops the thread. Later submits fail at once.
  void stop();

  // Applies `messages` atomically (all or none) and calls `done` once they are applied and
  // durable, with the counts of what was stored.
  void submit(std::vector<ingest::Message> messages, Done done);
  // Calls `done` as soon as `messages` are durable (in the intake log), before they are applied;
  // the counts are left at zero. Without a log the same as submit().
  void submit_durable(std::vector<ingest::Message> messages, Done done);
  // Erases the person known by `user_id`: profile, events, identities. kNotFound when unknown.
  void erase(std::string user_id, Done done);
  // Calls `done` once everything acknowledged before this call is applied (read-your-writes for
  // the customer card); at once when nothing is waiting.
  void when_applied(Done done);

  // Convenience for callers without their own event loop (import, tests): blocks until done.
  WriteOutcome submit_and_wait(std::vector<ingest::Message> messages);
  WriteOutcome erase_and_wait(std::string user_id);

 private:
  struct Job {
    std::vector<ingest::Message> messages;
    std::string erase_user_id;  // non-empty: an erasure instead of messages
    Done done;
    WriteOutcome outcome;
    std::vector<std::string> erased_hashes;  // to remember once the erasure is committed
    bool durable_ack = false;  // submit_durable(): answered once in the log
    std::uint64_t end = 0;     // with a log: the position just after the job's entry
  };
  // A caller waiting for the entry that ends at a position to be applied.
  struct Waiter {
    Done done;
    bool wants_outcome = true;  // false for when_applied(): it waits for a position, not an entry
    WriteOutcome outcome;
  };

  ProfileWriter(storage::Store& store, const Clock& clock, MetricsRegistry& metrics, std::string salt,
                storage::IntakeLog* log);
  void run();
  void enqueue(Job job);
  // Applies the jobs in one transaction; false when the commit failed (every job's outcome says why).
  // With `intake_position`, records it in the same transaction, committed with `sync`.
  bool apply_group(std::vector<Job>& jobs, std::optional<std::uint64_t> intake_position = std::nullopt,
                   storage::Store::Sync sync = storage::Store::Sync::kDurable);

  // With an intake log (intake.cc).
  void run_appender();
  void run_applier();
  void append_group(std::vector<Job>& jobs);
  bool apply_backlog(std::uint64_t& applied, bool& synced);
  void sync_applied(std::uint64_t applied);
  static std::string encode_entry(const Job& job);
  // Decodes into `job`, which is reset first; its messages keep their memory for reuse.
  static Status decode_entry(std::string_view payload, Job& job);
  Status apply_job(storage::WriteTransaction& tx, Job& job);
  Status apply_message(storage::WriteTransaction& tx, const ingest::Message& m, WriteOutcome& out);
  Result<storage::ProfileId> resolve(storage::WriteTransaction& tx, const ingest::Message& m);
  Status erase_person(storage::WriteTransaction& tx, const std::string& user_id,
                      std::vector<std::string>& hashes);
  std::string identity_hash(storage::IdentityKind kind, std::string_view value) const;
  bool is_erased(const ingest::Message& m) const;

  storage::Store& store_;
  const Clock& clock_;
  const std::string salt_;
  Counter& events_stored_;
  Counter& events_duplicate_;
  Counter& events_dropped_erased_;
  Histogram& commit_seconds_;
  Histogram& group_size_;
  Gauge& queue_depth_;
  Gauge& intake_lag_;
  Histogram& intake_append_seconds_;

  std::mutex mu_;
  std::condition_variable cv_;  // queue_ has jobs, stopping_, or (with a log) the applier moved on
  std::deque<Job> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;     // the applier

  // With an intake log.
  storage::IntakeLog* const log_;
  std::thread appender_;
  std::condition_variable applier_cv_;       // the log grew, or stopping_
  std::uint64_t applied_ = 0;                 // GUARDED_BY(mu_): log applied up to here
  std::multimap<std::uint64_t, Waiter> waiters_;  // GUARDED_BY(mu_): by entry end position
  bool appender_done_ = false;               // GUARDED_BY(mu_)
  std::function<void()> on_commit_;
  // The applier's jobs, kept between applies so that decoding reuses their messages' memory.
  std::vector<Job> backlog_jobs_;

  // Keyed hashes of erased people's ids; written by the writer thread only (after start()).
  std::unordered_set<std::string> erased_;
};

}  // namespace tp::profiles
