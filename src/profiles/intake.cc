// ProfileWriter with an intake log: requests are acknowledged once they are in the log (the
// appender thread) and applied to the store behind it (the applier thread). See writer.h.
#include <fmt/format.h>

#include <chrono>

#include "base/log.h"
#include "ingest/message_codec.h"
#include "profiles/writer.h"

namespace tp::profiles {
namespace {

// The appender waits while this much of the log is not applied yet, so a flood turns into
// slower acknowledgements instead of an ever longer wait for the customer card.
constexpr std::uint64_t kMaxLagBytes = 256ull << 20;
// Entries applied in one transaction: large commits while there is a backlog, but not so large
// (4 MiB is ~9,000 events) that the transaction's pages outgrow SQLite's 64 MiB page cache and
// spill into the WAL. memory_bench, 2M events: 4 MiB 14.9k events/s, RSS 157 MiB; 16 MiB 15.8k
// events/s, RSS 225 MiB; 48 MiB (before) spilled gigabytes into the WAL.
constexpr size_t kMaxBytesPerCommit = 4u << 20;
// At most one apply starts per millisecond: a commit rewrites every page it touches in the WAL,
// so at a few thousand events/s one commit per appender fsync wrote ~18 KB of WAL per event;
// spaced, several events share each page (docs/storage.md, "Intake log", Commit spacing).
constexpr std::chrono::microseconds kMinApplySpacing{1000};
// At most one log append (write and fdatasync) starts per millisecond, unless a page's worth of
// messages is waiting (~8 events of ~500 bytes); requests that arrive meanwhile join it. Every
// fdatasync flushes the device's cache and rewrites the log's last page: at 10,000 single
// events/s unspaced appends ran ~3,500 fsyncs/s, 55-68 of them over 5 ms in 8 s; spaced,
// 1,000/s and 8-12 over 5 ms. With a page waiting, a longer wait saves no page and only adds
// latency: at the closed-loop peak a plain 1 ms spacing cost 5-15 % (docs/storage.md, "Intake
// log", Append spacing). A request that finds the log idle for a millisecond is not delayed.
constexpr std::chrono::microseconds kMinAppendSpacing{1000};
constexpr size_t kPageOfMessages = 8;

// Entry payload: u8 kind, then for kMessages the encoded messages one after the other and for
// kErase the userId.
enum EntryKind : char { kMessages = 1, kErase = 2 };

}  // namespace

std::string ProfileWriter::encode_entry(const Job& job) {
  std::string out;
  if (!job.erase_user_id.empty()) {
    out.push_back(kErase);
    out += job.erase_user_id;
    return out;
  }
  out.push_back(kMessages);
  for (const auto& m : job.messages) ingest::encode_message(m, out);
  return out;
}

Status ProfileWriter::decode_entry(std::string_view payload, Job& job) {
  std::vector<ingest::Message> messages = std::move(job.messages);
  job = Job{};
  if (payload.empty()) return invalid_argument("intake entry: empty");
  char kind = payload.front();
  payload.remove_prefix(1);
  if (kind == kErase) {
    job.erase_user_id = std::string(payload);
    return Status::ok();
  }
  if (kind != kMessages) return invalid_argument(fmt::format("intake entry: unknown kind {}", static_cast<int>(kind)));
  size_t n = 0;
  for (; !payload.empty(); ++n) {
    if (n == messages.size()) messages.emplace_back();
    TP_TRY(ingest::decode_message_into(payload, messages[n]));
  }
  messages.resize(n);
  job.messages = std::move(messages);
  return Status::ok();
}

void ProfileWriter::run_appender() {
  std::vector<Job> group;
  auto last_start = std::chrono::steady_clock::time_point{};
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] {
        if (stopping_) return true;
        return !queue_.empty() && log_->durable_end() - applied_ < kMaxLagBytes;
      });
      cv_.wait_until(lock, last_start + kMinAppendSpacing, [&] {
        size_t messages = 0;
        for (const Job& job : queue_) messages += std::max<size_t>(job.messages.size(), 1);
        return stopping_ || messages >= kPageOfMessages;
      });
      last_start = std::chrono::steady_clock::now();
      if (queue_.empty()) return;  // stopping, and everything is written
      while (!queue_.empty()) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queue_depth_.set(0);
    }
    append_group(group);
    group.clear();
  }
}

void ProfileWriter::append_group(std::vector<Job>& jobs) {
  std::vector<std::string> payloads;
  payloads.reserve(jobs.size());
  for (const auto& job : jobs) payloads.push_back(encode_entry(job));
  // Positions are known before the write, so the waiters are in place before the applier can
  // see the entries.
  std::uint64_t pos = log_->durable_end();
  for (size_t i = 0; i < jobs.size(); ++i) {
    pos += storage::IntakeLog::kEntryHeaderBytes + payloads[i].size();
    jobs[i].end = pos;
  }
  {
    std::lock_guard lock(mu_);
    for (auto& job : jobs) {
      if (!job.durable_ack) waiters_.emplace(job.end, Waiter{std::move(job.done), true, {}});
    }
  }
  std::vector<std::string_view> views(payloads.begin(), payloads.end());
  auto started = std::chrono::steady_clock::now();
  auto appended = log_->append(views);
  intake_append_seconds_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (!appended.is_ok()) {
    log::error("intake log write failed", {{"error", appended.status().message()}, {"requests", std::to_string(jobs.size())}});
    std::vector<Waiter> failed;
    {
      std::lock_guard lock(mu_);
      for (auto& job : jobs) {
        if (job.durable_ack) continue;
        auto it = waiters_.find(job.end);
        failed.push_back(std::move(it->second));
        waiters_.erase(it);
      }
    }
    for (auto& job : jobs)
      if (job.durable_ack) job.done(WriteOutcome{appended.status()});
    for (auto& w : failed) w.done(WriteOutcome{appended.status()});
    return;
  }
  {
    std::lock_guard lock(mu_);  // so the applier cannot miss the wake-up
    intake_lag_.set(static_cast<long long>(log_->durable_end() - applied_));
  }
  applier_cv_.notify_one();
  for (auto& job : jobs)
    if (job.durable_ack) job.done(WriteOutcome{});
}

// Applies are committed without an fsync of their own (the log is the durable copy), except the
// one that lets a log segment go and the last one before shutdown: a power cut can then only
// undo applies whose entries are still in the log.
void ProfileWriter::run_applier() {
  std::uint64_t applied;
  {
    std::lock_guard lock(mu_);
    applied = applied_;
  }
  bool synced = true;
  auto last_start = std::chrono::steady_clock::time_point{};
  while (true) {
    {
      std::unique_lock lock(mu_);
      applier_cv_.wait(lock, [&] { return log_->durable_end() > applied || appender_done_; });
      if (log_->durable_end() <= applied) break;  // the appender is done and everything is applied
      applier_cv_.wait_until(lock, last_start + kMinApplySpacing, [&] { return appender_done_; });
    }
    last_start = std::chrono::steady_clock::now();
    if (apply_backlog(applied, synced)) continue;
    // The store failed; the same entries are tried again (they are still in the log).
    std::unique_lock lock(mu_);
    if (appender_done_) break;  // shutting down: the next start applies them
    applier_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return appender_done_; });
  }
  if (!synced) sync_applied(applied);
}

void ProfileWriter::sync_applied(std::uint64_t applied) {
  auto tx = store_.begin_write(storage::Store::Sync::kDurable);
  Status s = tx.is_ok() ? (*tx)->set_intake_position(applied) : tx.status();
  if (s.is_ok()) s = (*tx)->commit();
  if (!s.is_ok()) log::error("the last applied position could not be synced", {{"error", s.message()}});
}

bool ProfileWriter::apply_backlog(std::uint64_t& applied, bool& synced) {
  auto entries = log_->read(applied, kMaxBytesPerCommit);
  if (!entries.is_ok()) {
    log::error("intake log read failed", {{"error", entries.status().message()}});
    return false;
  }
  std::vector<Job>& jobs = backlog_jobs_;
  jobs.resize(entries->size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    const auto& e = (*entries)[i];
    Job& job = jobs[i];
    if (Status why = decode_entry(e.payload, job); !why.is_ok()) {
      // Only a bug can get here (the CRC matched): skip the entry rather than stop all intake.
      log::error("intake entry cannot be read; skipped", {{"error", why.message()}, {"intake_position", std::to_string(e.end)}});
      job = Job{};
      job.outcome.status = why;
    }
    job.end = e.end;
  }
  std::uint64_t end = entries->back().end;
  bool sync = log_->can_drop(end);
  if (!apply_group(jobs, end, sync ? storage::Store::Sync::kDurable : storage::Store::Sync::kDeferred)) return false;
  synced = sync;
  std::vector<Waiter> ready;
  {
    std::lock_guard lock(mu_);
    for (auto& job : jobs) {
      auto [first, last] = waiters_.equal_range(job.end);
      for (auto it = first; it != last; ++it)
        if (it->second.wants_outcome) it->second.outcome = job.outcome;
    }
    applied_ = end;
    for (auto it = waiters_.begin(); it != waiters_.end() && it->first <= end;) {
      ready.push_back(std::move(it->second));
      it = waiters_.erase(it);
    }
    intake_lag_.set(static_cast<long long>(log_->durable_end() - end));
  }
  cv_.notify_all();  // the appender may be waiting for the lag to shrink
  for (auto& w : ready) w.done(w.outcome);
  applied = end;
  if (sync) {
    if (Status s = log_->drop_applied(end); !s.is_ok()) log::error("intake log clean-up failed", {{"error", s.message()}});
  }
  return true;
}

}  // namespace tp::profiles
