#include "profiles/writer.h"

#include <fmt/format.h>

#include <future>

#include "base/crypto.h"
#include "base/json_text.h"
#include "base/log.h"
#include "base/thread.h"

namespace tp::profiles {

using storage::IdentityKind;
using storage::ProfileId;
using storage::WriteTransaction;

namespace {
// Bounds the work of one transaction so a flood cannot hold every request behind one commit.
constexpr size_t kMaxMessagesPerCommit = 20000;
}  // namespace

// Runs `on_error` with the failed status and returns false, when `expr` (Status or Result) failed.
#define TP_TRY_OR(on_error, expr)               \
  do {                                          \
    auto&& tp_status_ = (expr);                 \
    if (!tp_status_.is_ok()) {                  \
      on_error(tp_status_.status());            \
      return false;                             \
    }                                           \
  } while (0)

Result<std::unique_ptr<ProfileWriter>> ProfileWriter::create(storage::Store& store, const Clock& clock,
                                                             MetricsRegistry& metrics, storage::IntakeLog* log) {
  TP_ASSIGN(std::string salt, store.secret("erasure_salt"));
  auto writer = std::unique_ptr<ProfileWriter>(new ProfileWriter(store, clock, metrics, std::move(salt), log));
  storage::ReaderPool pool(store);
  TP_TRY(pool.with_reader([&](storage::Reader& r) -> Status {
    TP_ASSIGN(auto hashes, r.erased_hashes());
    writer->erased_.insert(hashes.begin(), hashes.end());
    if (log) {
      TP_ASSIGN(writer->applied_, r.intake_position());
    }
    return Status::ok();
  }));
  if (log) TP_TRY(log->resume_at(writer->applied_));
  return writer;
}

ProfileWriter::ProfileWriter(storage::Store& store, const Clock& clock, MetricsRegistry& metrics, std::string salt,
                             storage::IntakeLog* log)
    : store_(store),
      clock_(clock),
      salt_(std::move(salt)),
      events_stored_(metrics.counter("touchpoint_events_stored_total", "Events written to profiles")),
      events_duplicate_(metrics.counter("touchpoint_events_duplicate_total",
                                        "Events ignored because their messageId was seen before")),
      events_dropped_erased_(metrics.counter("touchpoint_events_erased_dropped_total",
                                             "Events dropped because the person was erased")),
      commit_seconds_(metrics.histogram("touchpoint_commit_seconds", "Duration of durable group commits",
                                        latency_bounds())),
      group_size_(metrics.histogram("touchpoint_commit_group_requests", "Requests sharing one commit",
                                    {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024})),
      queue_depth_(metrics.gauge("touchpoint_write_queue_depth", "Requests waiting for the writer")),
      intake_lag_(metrics.gauge("touchpoint_intake_lag_bytes",
                                "Bytes of acknowledged requests in the intake log not yet applied")),
      intake_append_seconds_(metrics.histogram("touchpoint_intake_append_seconds",
                                               "Duration of intake log appends (write and fdatasync)",
                                               latency_bounds())),
      log_(log) {}

ProfileWriter::~ProfileWriter() { stop(); }

void ProfileWriter::start() {
  if (thread_.joinable()) return;
  if (!log_) {
    thread_ = std::thread([this] {
      name_this_thread("tp-writer");
      run();
    });
    return;
  }
  appender_ = std::thread([this] {
    name_this_thread("tp-intake-log");
    run_appender();
  });
  thread_ = std::thread([this] {
    // Acknowledging comes first; applying behind the log is background work.
    name_this_thread("tp-applier");
    lower_this_thread_priority();
    run_applier();
  });
}

void ProfileWriter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (appender_.joinable()) appender_.join();  // it writes what is queued first
  {
    std::lock_guard lock(mu_);
    appender_done_ = true;
  }
  applier_cv_.notify_all();
  if (thread_.joinable()) thread_.join();  // it applies what is in the log first
}

void ProfileWriter::enqueue(Job job) {
  {
    std::unique_lock lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(job));
      queue_depth_.set(static_cast<long long>(queue_.size()));
      lock.unlock();
      cv_.notify_one();
      return;
    }
  }
  job.outcome.status = unavailable("the server is shutting down");
  job.done(job.outcome);
}

void ProfileWriter::submit(std::vector<ingest::Message> messages, Done done) {
  enqueue(Job{std::move(messages), {}, std::move(done), {}, {}});
}

void ProfileWriter::submit_durable(std::vector<ingest::Message> messages, Done done) {
  Job job{std::move(messages), {}, std::move(done), {}, {}};
  job.durable_ack = true;
  enqueue(std::move(job));
}

void ProfileWriter::erase(std::string user_id, Done done) {
  enqueue(Job{{}, std::move(user_id), std::move(done), {}, {}});
}

void ProfileWriter::when_applied(Done done) {
  if (log_) {
    std::unique_lock lock(mu_);
    std::uint64_t target = log_->durable_end();
    if (applied_ < target) {
      if (appender_done_) {
        lock.unlock();
        return done(WriteOutcome{unavailable("the server is shutting down")});
      }
      waiters_.emplace(target, Waiter{std::move(done), false, {}});
      return;
    }
  }
  done(WriteOutcome{});  // without a log everything acknowledged is applied
}

WriteOutcome ProfileWriter::submit_and_wait(std::vector<ingest::Message> messages) {
  std::promise<WriteOutcome> p;
  submit(std::move(messages), [&p](const WriteOutcome& o) { p.set_value(o); });
  return p.get_future().get();
}

WriteOutcome ProfileWriter::erase_and_wait(std::string user_id) {
  std::promise<WriteOutcome> p;
  erase(std::move(user_id), [&p](const WriteOutcome& o) { p.set_value(o); });
  return p.get_future().get();
}

void ProfileWriter::run() {
  std::vector<Job> group;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything is drained
      size_t messages = 0;
      while (!queue_.empty() && (group.empty() || messages < kMaxMessagesPerCommit)) {
        messages += queue_.front().messages.size() + 1;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queue_depth_.set(static_cast<long long>(queue_.size()));
    }
    apply_group(group);
    for (auto& job : group) job.done(job.outcome);
    group.clear();
  }
}

bool ProfileWriter::apply_group(std::vector<Job>& jobs, std::optional<std::uint64_t> intake_position,
                                storage::Store::Sync sync) {
  auto started = std::chrono::steady_clock::now();
  auto fail_all = [&](const Status& s) {
    log::error("group commit failed", {{"error", s.message()}, {"requests", std::to_string(jobs.size())}});
    for (auto& job : jobs) job.outcome = WriteOutcome{s};
  };
  auto began = store_.begin_write(sync);
  if (!began.is_ok()) return fail_all(began.status()), false;
  std::unique_ptr<WriteTransaction> tx = std::move(began).value();
  // Erasures take effect for the requests after them in the same group; undone if the commit fails.
  std::vector<std::string> newly_erased;
  auto undo_erasures = [&](const Status& s) {
    for (const auto& hash : newly_erased) erased_.erase(hash);
    fail_all(s);
  };
  for (auto& job : jobs) {
    // A savepoint per request: one request's failure leaves the others in the commit.
    TP_TRY_OR(undo_erasures, tx->savepoint());
    Status s = apply_job(*tx, job);
    if (!s.is_ok()) {
      TP_TRY_OR(undo_erasures, tx->rollback_to_savepoint());
      job.outcome = WriteOutcome{s};
      if (intake_position && job.erase_user_id.empty())
        log::error("an acknowledged request could not be applied",
                   {{"error", s.message()}, {"intake_position", std::to_string(job.end)}});
      continue;
    }
    TP_TRY_OR(undo_erasures, tx->release_savepoint());
    for (auto& hash : job.erased_hashes) {
      if (erased_.insert(hash).second) newly_erased.push_back(std::move(hash));
    }
  }
  if (intake_position) TP_TRY_OR(undo_erasures, tx->set_intake_position(*intake_position));
  TP_TRY_OR(undo_erasures, tx->commit());
  tx.reset();  // releases the store's writer lock
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  commit_seconds_.observe(seconds);
  group_size_.observe(static_cast<double>(jobs.size()));
  if (on_commit_) on_commit_();
  for (const auto& job : jobs) {
    events_stored_.add(job.outcome.stored);
    events_duplicate_.add(job.outcome.duplicates);
    events_dropped_erased_.add(job.outcome.erased);
  }
  return true;
}

Status ProfileWriter::apply_job(WriteTransaction& tx, Job& job) {
  if (!job.erase_user_id.empty()) return erase_person(tx, job.erase_user_id, job.erased_hashes);
  WriteOutcome out;
  for (const auto& m : job.messages) TP_TRY(apply_message(tx, m, out));
  job.outcome = out;
  return Status::ok();
}

Status ProfileWriter::apply_message(WriteTransaction& tx, const ingest::Message& m, WriteOutcome& out) {
  if (is_erased(m)) {
    ++out.erased;
    return Status::ok();
  }
  TP_ASSIGN(bool seen, tx.has_message(m.message_id));
  if (seen) {
    ++out.duplicates;
    return Status::ok();
  }
  TP_ASSIGN(ProfileId profile, resolve(tx, m));
  TP_TRY(tx.insert_event({profile, m.message_id, ingest::type_name(m.type), m.event, m.timestamp, m.received_at,
                          m.body}));
  if (m.type == ingest::MessageType::kIdentify) {
    for (const auto& t : m.traits) TP_TRY(tx.upsert_trait(profile, t.name, t.json, m.timestamp));
  } else if (m.type == ingest::MessageType::kGroup) {
    std::string traits = "{";
    for (const auto& t : m.traits) {
      if (traits.size() > 1) traits.push_back(',');
      append_json_string(traits, t.name);
      traits.push_back(':');
      traits += t.json;
    }
    traits.push_back('}');
    TP_TRY(tx.upsert_group(profile, m.group_id, traits, m.timestamp));
  }
  for (const auto& [category, granted] : m.consent) TP_TRY(tx.upsert_consent(profile, category, granted, m.timestamp));
  ++out.stored;
  return Status::ok();
}

// Identity resolution; the rules are written down in docs/identity.md.
Result<ProfileId> ProfileWriter::resolve(WriteTransaction& tx, const ingest::Message& m) {
  Timestamp now = clock_.now();
  if (m.type == ingest::MessageType::kAlias) {
    // previousId (an anonymousId or an earlier userId) joins the profile of userId.
    TP_ASSIGN(auto target, tx.find_identity(IdentityKind::kUser, m.user_id));
    TP_ASSIGN(auto source, tx.find_identity(IdentityKind::kUser, m.previous_id));
    if (!source) {
      TP_ASSIGN(source, tx.find_identity(IdentityKind::kAnonymous, m.previous_id));
    }
    if (!target) {
      if (source) {
        TP_ASSIGN(std::string primary, tx.primary_user(*source));
        if (primary.empty()) TP_TRY(tx.set_primary_user(*source, m.user_id));
        TP_TRY(tx.link_identity(IdentityKind::kUser, m.user_id, *source));
        return *source;
      }
      TP_ASSIGN(ProfileId created, tx.create_profile(m.user_id, now));
      TP_TRY(tx.link_identity(IdentityKind::kUser, m.user_id, created));
      TP_TRY(tx.link_identity(IdentityKind::kAnonymous, m.previous_id, created));
      return created;
    }
    if (source && *source != *target) TP_TRY(tx.merge_profiles(*source, *target));
    if (!source) TP_TRY(tx.link_identity(IdentityKind::kAnonymous, m.previous_id, *target));
    return *target;
  }

  std::optional<ProfileId> by_user, by_anon;
  if (!m.user_id.empty()) {
    TP_ASSIGN(by_user, tx.find_identity(IdentityKind::kUser, m.user_id));
  }
  if (!m.anonymous_id.empty()) {
    TP_ASSIGN(by_anon, tx.find_identity(IdentityKind::kAnonymous, m.anonymous_id));
  }
  if (m.user_id.empty()) {
    if (by_anon) return *by_anon;
    TP_ASSIGN(ProfileId created, tx.create_profile("", now));
    TP_TRY(tx.link_identity(IdentityKind::kAnonymous, m.anonymous_id, created));
    return created;
  }
  // An anonymous profile (no userId yet) joins the known person; an anonymousId already used
  // by another known person (a shared device) stays where it is.
  bool anon_is_anonymous = false;
  if (by_anon) {
    TP_ASSIGN(std::string primary, tx.primary_user(*by_anon));
    anon_is_anonymous = primary.empty();
  }
  if (!by_user) {
    if (by_anon && anon_is_anonymous) {
      TP_TRY(tx.set_primary_user(*by_anon, m.user_id));
      TP_TRY(tx.link_identity(IdentityKind::kUser, m.user_id, *by_anon));
      return *by_anon;
    }
    TP_ASSIGN(ProfileId created, tx.create_profile(m.user_id, now));
    TP_TRY(tx.link_identity(IdentityKind::kUser, m.user_id, created));
    if (!m.anonymous_id.empty() && !by_anon) TP_TRY(tx.link_identity(IdentityKind::kAnonymous, m.anonymous_id, created));
    return created;
  }
  if (!m.anonymous_id.empty()) {
    if (!by_anon) {
      TP_TRY(tx.link_identity(IdentityKind::kAnonymous, m.anonymous_id, *by_user));
    } else if (*by_anon != *by_user && anon_is_anonymous) {
      TP_TRY(tx.merge_profiles(*by_anon, *by_user));
    }
  }
  return *by_user;
}

Status ProfileWriter::erase_person(WriteTransaction& tx, const std::string& user_id,
                                  std::vector<std::string>& hashes) {
  TP_ASSIGN(auto profile, tx.find_identity(IdentityKind::kUser, user_id));
  if (!profile) return not_found(fmt::format("no profile with userId {}", user_id));
  TP_ASSIGN(auto ids, tx.identities(*profile));
  for (const auto& id : ids) {
    std::string hash = identity_hash(id.kind, id.value);
    TP_TRY(tx.add_erased_hash(hash));
    hashes.push_back(std::move(hash));
  }
  return tx.delete_profile(*profile);
}

std::string erasure_hash(std::string_view salt, IdentityKind kind, std::string_view value) {
  return hmac_sha256(salt, fmt::format("{}:{}", static_cast<int>(kind), value));
}

std::string ProfileWriter::identity_hash(IdentityKind kind, std::string_view value) const {
  return erasure_hash(salt_, kind, value);
}

bool ProfileWriter::is_erased(const ingest::Message& m) const {
  if (erased_.empty()) return false;
  auto hit = [&](IdentityKind kind, const std::string& v) {
    return !v.empty() && erased_.count(identity_hash(kind, v)) > 0;
  };
  return hit(IdentityKind::kUser, m.user_id) || hit(IdentityKind::kAnonymous, m.anonymous_id) ||
         (m.type == ingest::MessageType::kAlias &&
          (hit(IdentityKind::kUser, m.previous_id) || hit(IdentityKind::kAnonymous, m.previous_id)));
}

}  // namespace tp::profiles
