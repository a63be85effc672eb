// A WAL database's background checkpointer (docs/storage.md, "Checkpoints").
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/status.h"
#include "storage/sqlite_db.h"

namespace tp::storage::sqlite {

// Copies committed WAL frames into the database every 50 ms, or sooner once the writer's small
// commits have added kFramesPerCheckpoint frames (watch()), on its own thread and connection
// (PASSIVE: never blocks the writer or readers), so that a writer with `wal_autocheckpoint=0`
// does not pay for checkpoints inside its commits. The WAL starts over only when a checkpoint
// has copied all of it while no transaction writes, which a writer that never pauses does not
// allow (a RESTART checkpoint here would wait for a gap between two transactions and rarely see
// one). So past ~200 MB of WAL the checkpointer asks, and the writer calls restart_if_asked()
// before its next transaction.
class Checkpointer {
 public:
  static constexpr int kDefaultRestartFrames = 50000;  // ~200 MB of 4 KB pages
  static constexpr int kFramesPerCheckpoint = 256;      // 1 MB of 4 KB pages
  static constexpr int kBulkCommitFrames = 1024;        // a commit this large does not wake it
  static constexpr std::chrono::milliseconds kMinSpacing{15};  // after the last checkpoint
  static constexpr std::chrono::milliseconds kDefaultInterval{50};
  static constexpr std::int64_t kWriteBackStep = 256 << 10;  // WAL bytes written back at a time

  // `thread_name` shows in `top -H`. The thread runs at a lower CPU priority (base/thread.h).
  // Past `restart_frames` frames in the WAL, it asks the writer to restart it.
  static Result<std::unique_ptr<Checkpointer>> start(const std::string& path, const char* thread_name,
                                                     int restart_frames = kDefaultRestartFrames,
                                                     std::chrono::milliseconds interval = kDefaultInterval);
  ~Checkpointer();  // a last PASSIVE checkpoint, then the thread ends

  // Installs a WAL hook on the write connection, which tells the checkpointer where the WAL's
  // committed frames end: before each checkpoint it writes the frames since the last one back in
  // steps of kWriteBackStep, waiting for each (base/file.h), so that the checkpoint's own sync of
  // the WAL has little left to write. With `wake`, once the writer's commits, each smaller than
  // `kBulkCommitFrames`, have added `kFramesPerCheckpoint` frames since the last checkpoint, the
  // checkpointer runs as soon as `kMinSpacing` has passed since its last one rather than at its
  // next tick, so that what one checkpoint syncs stays small (docs/storage.md, "Checkpoints").
  // Call it before the writer's first transaction.
  void watch(Database& writer, bool wake = true);

  // On the write connection, outside a transaction: when asked, a PASSIVE checkpoint copies what
  // the checkpointer has not yet (little); when that is the whole WAL, the next transaction
  // writes the WAL from its start. It never waits: while a reader still reads frames of the WAL,
  // the restart waits for a later transaction.
  void restart_if_asked(Database& writer);

 private:
  Checkpointer(std::unique_ptr<Database> db, int restart_frames, std::chrono::milliseconds interval)
      : db_(std::move(db)), restart_frames_(restart_frames), interval_(interval) {}
  void loop();
  void on_commit(int wal_frames);  // the writer's WAL hook
  void write_back_wal();           // the frames committed since the last checkpoint

  static constexpr std::int64_t kWalHeader = 32, kWalFrameHeader = 24;  // SQLite's WAL format

  std::unique_ptr<Database> db_;  // the checkpointer thread's own connection
  sqlite3* writer_ = nullptr;     // the watched write connection
  const int restart_frames_;
  const std::chrono::milliseconds interval_;
  std::atomic<bool> restart_wanted_{false};
  std::atomic<int> checkpointed_frames_{0};  // the WAL's frames at the last checkpoint
  std::atomic<int> last_commit_frames_{0};   // the WAL's frames after the writer's last commit
  bool wake_ = true;                         // set by watch()
  int wal_fd_ = -1;                          // the WAL, for write_back_wal()
  std::int64_t frame_bytes_ = 0;             // page size + frame header
  std::atomic<bool> due_{false};             // the writer added enough frames since
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace tp::storage::sqlite
