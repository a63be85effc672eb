// ProfileWriter: applies ingested messages to the customer records, durably, in group commits.
//
// Every accepted message becomes one event on one profile's timeline; identify/alias/any
// message carrying both ids links identities and may merge profiles (rules in
// docs/identity.md); identify sets traits (per trait, the later event time wins); group
// records the organisation; context.consent.categoryPreferences sets consent.
//
// Threading: submit() and erase() may be called from any thread. One writer thread owns the
// write transaction: it takes everything queued, applies it in one transaction and commits once,
// so many requests share one fsync. Callbacks run on the writer thread after the commit is
// durable (or failed); they must be quick and must not call back into the writer synchronously.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
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
#include "storage/store.h"

namespace tp::profiles {

struct WriteOutcome {
  Status status;
  int stored = 0;      // new events written
  int duplicates = 0;  // messageIds seen before: acknowledged and ignored
  int erased = 0;      // messages of erased people: acknowledged and dropped
};

class ProfileWriter {
 public:
  using Done = std::function<void(const WriteOutcome&)>;

  static Result<std::unique_ptr<ProfileWriter>> create(storage::Store& store, const Clock& clock,
                                                       MetricsRegistry& metrics);
  ~ProfileWriter();

  // Called on the writer thread after every durable commit (e.g. to wake the journey runner).
  // Set before start(); must be quick.
  void set_on_commit(std::function<void()> f) { on_commit_ = std::move(f); }

  void start();
  // Applies everything already submitted, then stops the thread. Later submits fail at once.
  void stop();

  // Applies `messages` atomically (all or none) and calls `done` once they are durable.
  void submit(std::vector<ingest::Message> messages, Done done);
  // Erases the person known by `user_id`: profile, events, identities. kNotFound when unknown.
  void erase(std::string user_id, Done done);

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
  };

  ProfileWriter(storage::Store& store, const Clock& clock, MetricsRegistry& metrics, std::string salt);
  void run();
  void enqueue(Job job);
  void apply_group(std::vector<Job>& jobs);
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

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
  std::function<void()> on_commit_;

  // Keyed hashes of erased people's ids; written by the writer thread only (after start()).
  std::unordered_set<std::string> erased_;
};

}  // namespace tp::profiles
