#include "storage/sqlite_checkpointer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

namespace tp::storage::sqlite {
namespace {

// A WAL database with a writer that never checkpoints itself, as the stores open theirs.
class CheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tp-checkpointer-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "test.db").string();
    auto db = Database::open(path_, Database::Mode::kReadWrite);
    ASSERT_TRUE(db.is_ok());
    db_ = std::move(db).value();
    ASSERT_TRUE(db_->exec("PRAGMA journal_mode=WAL").is_ok());
    ASSERT_TRUE(db_->exec("PRAGMA wal_autocheckpoint=0").is_ok());
    ASSERT_TRUE(db_->exec("CREATE TABLE t(v BLOB)").is_ok());
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  // One transaction of `rows` rows of 1,000 bytes (~4 to a page).
  void insert(int rows) {
    ASSERT_TRUE(db_->exec("BEGIN IMMEDIATE").is_ok());
    const std::string sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<" +
                            std::to_string(rows) + ") INSERT INTO t SELECT randomblob(1000) FROM n";
    ASSERT_TRUE(db_->exec(sql.c_str()).is_ok());
    ASSERT_TRUE(db_->exec("COMMIT").is_ok());
  }

  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<Database> db_;
};

// A writer that never pauses for long: the WAL starts over only because the checkpointer asks
// and the writer restarts it between transactions.
TEST_F(CheckpointerTest, TheWriterRestartsTheWalWhenAsked) {
  ASSERT_TRUE(db_->exec("PRAGMA journal_size_limit=0").is_ok());  // a restarted WAL is cut back
  auto checkpointer = Checkpointer::start(path_, "tp-test-ckpt", /*restart_frames=*/100);
  ASSERT_TRUE(checkpointer.is_ok());
  // ~10 pages per transaction; the checkpointer asks past 100 frames. Without a restart the
  // WAL file only grows; allow a slow machine 10 s to see it shrink.
  bool restarted = false;
  std::uintmax_t before = 0;
  const std::string wal = path_ + "-wal";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!restarted && std::chrono::steady_clock::now() < deadline) {
    (*checkpointer)->restart_if_asked(*db_);
    insert(40);
    std::uintmax_t now = std::filesystem::file_size(wal);
    restarted = now < before;
    before = now;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_TRUE(restarted) << "the WAL never started over (" << before << " bytes)";
}

// Small commits that add up to kFramesPerCheckpoint frames wake the checkpointer; one large commit
// does not. With its timer set to an hour, only the WAL hook can make it copy anything into the
// database file.
TEST_F(CheckpointerTest, SmallCommitsWakeItAfterEnoughFrames) {
  auto checkpointer = Checkpointer::start(path_, "tp-test-ckpt", Checkpointer::kDefaultRestartFrames,
                                          std::chrono::hours(1));
  ASSERT_TRUE(checkpointer.is_ok());
  (*checkpointer)->watch(*db_);
  const auto initial = std::filesystem::file_size(path_);  // the header page; the table is in the WAL
  insert(40);  // ~10 frames: not enough
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(std::filesystem::file_size(path_), initial) << "checkpointed before the writer added enough frames";
  insert(8 * Checkpointer::kBulkCommitFrames);  // one commit of ~2,000 frames: a bulk load's
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(std::filesystem::file_size(path_), initial) << "a single large commit woke the checkpointer";
  for (int i = 0; i < 40; ++i) insert(40);  // ~400 frames in small commits
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::filesystem::file_size(path_) == initial && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GT(std::filesystem::file_size(path_), initial) << "the checkpointer did not wake up";
}

// What the checkpointer copies into the database file is exactly what was committed, where the
// file grows and where pages are rewritten in place, while it writes the WAL back in steps
// before each checkpoint.
TEST_F(CheckpointerTest, WhatItCopiesIsWhatWasCommitted) {
  auto digest = [](Database& db) {
    std::string out;
    auto q = db.prepare("SELECT count(*), group_concat(hex(substr(v, 1, 8)), '') FROM t");
    EXPECT_TRUE(q.is_ok());
    EXPECT_TRUE(q->each_row([&](const Statement& row) { out = std::to_string(row.column_int(0)) + ":" + std::string(row.column_text(1)); }).is_ok());
    return out;
  };
  auto checkpointer = Checkpointer::start(path_, "tp-test-ckpt", Checkpointer::kDefaultRestartFrames,
                                          std::chrono::milliseconds(10));
  ASSERT_TRUE(checkpointer.is_ok());
  (*checkpointer)->watch(*db_);
  insert(2000);  // ~500 pages, 2 MB: the checkpoint extends the file
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::filesystem::file_size(path_) < 2000000u && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_GE(std::filesystem::file_size(path_), 2000000u) << "the checkpointer copied nothing";
  ASSERT_TRUE(db_->exec("UPDATE t SET v = randomblob(1000)").is_ok());  // every page again, in place
  insert(500);
  const std::string committed = digest(*db_);
  checkpointer->reset();  // a last checkpoint copies the rest
  // The database file alone, without its WAL, holds all of it.
  const std::string copy = (dir_ / "copy.db").string();
  std::filesystem::copy_file(path_, copy);
  auto reopened = Database::open(copy, Database::Mode::kReadWrite);
  ASSERT_TRUE(reopened.is_ok());
  auto check = (*reopened)->prepare("PRAGMA integrity_check");
  ASSERT_TRUE(check.is_ok());
  std::string integrity;
  ASSERT_TRUE(check->each_row([&](const Statement& row) { integrity = row.column_text(0); }).is_ok());
  EXPECT_EQ(integrity, "ok");
  EXPECT_EQ(digest(**reopened), committed);
}

}  // namespace
}  // namespace tp::storage::sqlite
