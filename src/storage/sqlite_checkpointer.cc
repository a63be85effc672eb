#include "storage/sqlite_checkpointer.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/file.h"
#include "base/thread.h"

namespace tp::storage::sqlite {
Result<std::unique_ptr<Checkpointer>> Checkpointer::start(const std::string& path, const char* thread_name,
                                                         int restart_frames, std::chrono::milliseconds interval) {
  TP_ASSIGN(auto db, Database::open(path, Database::Mode::kReadWrite));
  // A connection learns that the database is in WAL mode on its first read; until then
  // sqlite3_wal_checkpoint_v2 does nothing and says nothing, and the WAL grows without end.
  TP_TRY(db->exec("SELECT count(*) FROM sqlite_master"));
  std::int64_t frame_bytes = 0;
  {
    TP_ASSIGN(auto page_size, db->prepare("PRAGMA page_size"));
    TP_TRY(page_size.each_row([&](const Statement& row) { frame_bytes = kWalFrameHeader + row.column_int(0); }));
  }
  auto c = std::unique_ptr<Checkpointer>(new Checkpointer(std::move(db), restart_frames, interval));
  c->wal_fd_ = ::open((path + "-wal").c_str(), O_RDONLY | O_CLOEXEC);
  c->frame_bytes_ = frame_bytes;
  c->thread_ = std::thread([c = c.get(), thread_name] {
    name_this_thread(thread_name);
    lower_this_thread_priority();
    c->loop();
  });
  return c;
}

Checkpointer::~Checkpointer() {
  if (writer_) sqlite3_wal_hook(writer_, nullptr, nullptr);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (wal_fd_ >= 0) ::close(wal_fd_);
}

void Checkpointer::write_back_wal() {
  if (wal_fd_ < 0 || frame_bytes_ == 0) return;
  int from = checkpointed_frames_.load(std::memory_order_relaxed);
  int to = last_commit_frames_.load(std::memory_order_relaxed);
  if (to < from) from = 0;  // the WAL started over
  auto offset = [&](int frames) { return kWalHeader + frames * frame_bytes_; };
  write_back_in_steps(wal_fd_, offset(from), offset(to), kWriteBackStep);
}

void Checkpointer::loop() {
  std::unique_lock lock(mu_);
  auto last = std::chrono::steady_clock::now();
  while (true) {
    cv_.wait_for(lock, interval_, [&] { return stopping_ || due_.load(); });
    if (stopping_) break;
    if (due_) cv_.wait_until(lock, last + kMinSpacing, [&] { return stopping_; });
    if (stopping_) break;
    last = std::chrono::steady_clock::now();
    due_ = false;
    lock.unlock();
    write_back_wal();
    int wal_frames = 0, copied = 0;
    if (sqlite3_wal_checkpoint_v2(db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_frames, &copied) ==
        SQLITE_OK) {
      checkpointed_frames_ = wal_frames;
      if (wal_frames > restart_frames_) restart_wanted_ = true;
    }
    lock.lock();
  }
  lock.unlock();
  sqlite3_wal_checkpoint_v2(db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
}

void Checkpointer::watch(Database& writer, bool wake) {
  writer_ = writer.handle();
  wake_ = wake;
  sqlite3_wal_hook(
      writer.handle(),
      [](void* self, sqlite3*, const char*, int frames) {
        static_cast<Checkpointer*>(self)->on_commit(frames);
        return SQLITE_OK;
      },
      this);
}

void Checkpointer::on_commit(int wal_frames) {
  // Only the writer's thread stores last_commit_frames_; the checkpointer's reads it.
  int last = last_commit_frames_.load(std::memory_order_relaxed);
  int added = wal_frames >= last ? wal_frames - last : wal_frames;
  last_commit_frames_.store(wal_frames, std::memory_order_relaxed);
  if (!wake_) return;
  // A commit this large is a bulk load behind a backlog: the syncs of its WAL are large anyway,
  // and checkpoints every few ms would copy its pages into the database again and again.
  if (added >= kBulkCommitFrames) return;
  int since = wal_frames - checkpointed_frames_.load(std::memory_order_relaxed);
  if (since < 0) since = wal_frames;  // the WAL started over
  if (since < kFramesPerCheckpoint || due_.load(std::memory_order_relaxed)) return;
  {
    std::lock_guard lock(mu_);
    due_ = true;
  }
  cv_.notify_one();
}

void Checkpointer::restart_if_asked(Database& writer) {
  if (!restart_wanted_.load(std::memory_order_relaxed)) return;
  // PASSIVE waits for nobody: it copies what the checkpointer has not yet (little). When that
  // is all of the WAL, the transaction that follows starts the WAL over by itself, unless a
  // reader still reads frames of it; then the next transaction tries again. (A RESTART here
  // waited for such readers with the writer blocked: stalls of 100-150 ms every few seconds.)
  int wal_frames = 0, copied = 0;
  if (sqlite3_wal_checkpoint_v2(writer.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_frames, &copied) ==
          SQLITE_OK &&
      copied == wal_frames)
    restart_wanted_ = false;
}

}  // namespace tp::storage::sqlite
