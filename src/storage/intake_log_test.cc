#include "storage/intake_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace tp::storage {
namespace {

namespace fs = std::filesystem;

class IntakeLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tp-intake-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<IntakeLog> open(std::uint64_t segment_bytes = IntakeLog::kDefaultSegmentBytes) {
    auto log = IntakeLog::open(dir_.string(), segment_bytes);
    EXPECT_TRUE(log.is_ok()) << log.status().message();
    return std::move(log).value();
  }
  std::vector<std::string> payloads(IntakeLog& log, std::uint64_t from) {
    std::vector<std::string> out;
    auto entries = log.read(from, 1 << 20);
    EXPECT_TRUE(entries.is_ok()) << entries.status().message();
    for (auto& e : *entries) out.push_back(e.payload);
    return out;
  }
  std::vector<fs::path> segments() {
    std::vector<fs::path> out;
    for (const auto& f : fs::directory_iterator(dir_))
      if (f.path().extension() == ".log") out.push_back(f.path());
    std::sort(out.begin(), out.end());
    return out;
  }
  static ino_t inode(const fs::path& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
  }

  fs::path dir_;
};

TEST_F(IntakeLogTest, AppendedEntriesAreReadBackInOrderAfterReopening) {
  std::vector<std::uint64_t> ends;
  {
    auto log = open();
    ends = std::move(log->append({"first", "second"})).value();
    auto more = std::move(log->append({"third"})).value();
    ends.push_back(more[0]);
    EXPECT_EQ(log->durable_end(), ends.back());
  }
  EXPECT_EQ(ends, (std::vector<std::uint64_t>{13, 27, 40}));  // 8-byte header + payload each
  auto log = open();
  EXPECT_EQ(log->durable_end(), 40u);
  EXPECT_EQ(payloads(*log, 0), (std::vector<std::string>{"first", "second", "third"}));
  EXPECT_EQ(payloads(*log, 13), (std::vector<std::string>{"second", "third"}));
  EXPECT_TRUE(payloads(*log, 40).empty());
}

TEST_F(IntakeLogTest, ReadStopsNearTheByteBudgetButReturnsAtLeastOneEntry) {
  auto log = open();
  std::string big(1000, 'x');
  ASSERT_TRUE(log->append({big, big, big}).is_ok());
  auto one = std::move(log->read(0, 10)).value();
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].payload, big);
  EXPECT_EQ(one[0].end, 1008u);
  EXPECT_EQ(std::move(log->read(0, 2100)).value().size(), 2u);
}

TEST_F(IntakeLogTest, ATornTailIsCutOffAndAppendingContinuesAfterTheLastWholeEntry) {
  {
    auto log = open();
    ASSERT_TRUE(log->append({"kept"}).is_ok());
  }
  auto segment = segments().at(0);
  {
    // A crash in the middle of the next write: a header promising more than is there, into the
    // zeros preallocated after the entry.
    std::fstream f(segment, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(12);
    f.write("\x40\x00\x00\x00\x01\x02\x03\x04partial", 15);
  }
  auto log = open();
  EXPECT_EQ(log->durable_end(), 12u);
  {
    std::ifstream f(segment, std::ios::binary);
    f.seekg(12);
    char rest[15];
    f.read(rest, 15);
    EXPECT_EQ(std::string(rest, 15), std::string(15, '\0'));  // the torn bytes are gone
  }
  ASSERT_TRUE(log->append({"next"}).is_ok());
  EXPECT_EQ(payloads(*log, 0), (std::vector<std::string>{"kept", "next"}));
}

TEST_F(IntakeLogTest, ACorruptEntryInsideTheLogIsAnErrorNamingTheFileAndByte) {
  {
    auto log = open(/*segment_bytes=*/16);
    ASSERT_TRUE(log->append({"aaaaaaaaaa"}).is_ok());  // 18 bytes: the next append rolls
    ASSERT_TRUE(log->append({"bbbb"}).is_ok());
  }
  auto first = segments().at(0);
  {
    std::fstream f(first, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(10);
    f.put('X');
  }
  auto log = IntakeLog::open(dir_.string(), 16);
  ASSERT_FALSE(log.is_ok());
  EXPECT_NE(log.status().message().find(first.filename().string() + " is damaged at byte 0"), std::string::npos)
      << log.status().message();
}

TEST_F(IntakeLogTest, SegmentsRollAndAreDroppedOnceApplied) {
  auto log = open(/*segment_bytes=*/32);
  std::vector<std::uint64_t> ends;
  for (int i = 0; i < 6; ++i) ends.push_back(std::move(log->append({std::string(12, 'a' + i)})).value()[0]);
  // 20 bytes per entry: a new segment after every second entry.
  EXPECT_EQ(segments().size(), 3u);
  EXPECT_EQ(payloads(*log, ends[0]).size(), 5u);  // reads across segment boundaries
  ASSERT_TRUE(log->drop_applied(ends[2]).is_ok());  // the first segment holds only applied entries
  EXPECT_EQ(segments().size(), 2u);
  EXPECT_EQ(log->start(), ends[1]);
  EXPECT_EQ(payloads(*log, ends[2]).size(), 3u);
  ASSERT_TRUE(log->drop_applied(ends[5]).is_ok());  // the last segment always stays
  EXPECT_EQ(segments().size(), 1u);
  EXPECT_FALSE(log->read(0, 100).is_ok());  // dropped
}

TEST_F(IntakeLogTest, AnAppliedSegmentIsZeroedAndBecomesALaterOne) {
  auto log = open(/*segment_bytes=*/4096);
  const fs::path spare = dir_ / "spare.tmp";
  log->wait_for_spare();
  const ino_t created_spare = inode(spare);
  ASSERT_NE(created_spare, 0u);
  // 1,008 bytes per entry: five fill the first segment, the sixth starts the second on the spare.
  std::vector<std::uint64_t> ends;
  for (char c : std::string("abcdef")) ends.push_back(std::move(log->append({std::string(1000, c)})).value()[0]);
  auto segs = segments();
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(inode(segs[1]), created_spare);
  EXPECT_FALSE(fs::exists(spare));
  const ino_t first_segment = inode(segs[0]);

  ASSERT_TRUE(log->drop_applied(ends[4]).is_ok());
  EXPECT_EQ(segments().size(), 1u);
  EXPECT_EQ(inode(spare), first_segment);  // kept as the next spare, not deleted
  log->wait_for_spare();
  std::ifstream in(spare, std::ios::binary);
  std::string zeroed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(zeroed.size(), 8192u);  // a segment and its preallocation
  EXPECT_EQ(zeroed.substr(0, 8192).find_first_not_of('\0'), std::string::npos);

  // The second segment fills; the third starts on the first one's blocks, and none of the old
  // entries there is read back, also after reopening.
  for (char c : std::string("klmno")) ends.push_back(std::move(log->append({std::string(1000, c)})).value()[0]);
  segs = segments();
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(inode(segs[1]), first_segment);
  log.reset();
  log = open(4096);
  EXPECT_EQ(log->durable_end(), ends.back());
  std::string firsts;
  for (const auto& p : payloads(*log, ends[4])) firsts += p.front();
  EXPECT_EQ(firsts, "fklmno");
}

// A stop in the middle of zeroing leaves a spare with old entries in it: the next open zeroes it
// again before any segment starts on it.
TEST_F(IntakeLogTest, ASpareLeftByAStopIsZeroedAgainBeforeUse) {
  const fs::path spare = dir_ / "spare.tmp";
  {
    auto log = open(/*segment_bytes=*/4096);
    log->wait_for_spare();
  }
  ino_t left = inode(spare);
  ASSERT_NE(left, 0u);
  {
    std::fstream f(spare, std::ios::in | std::ios::out | std::ios::binary);
    f << std::string(6000, 'z');  // what a segment's old entries would look like
  }
  auto log = open(4096);
  log->wait_for_spare();
  EXPECT_EQ(inode(spare), left);  // rewritten in place, not replaced
  std::ifstream in(spare, std::ios::binary);
  std::string zeroed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(zeroed.size(), 8192u);
  EXPECT_EQ(zeroed.substr(0, 8192).find_first_not_of('\0'), std::string::npos);
}

TEST_F(IntakeLogTest, ResumeLinesAnEmptyLogUpWithTheStore) {
  {
    auto log = open();
    ASSERT_TRUE(log->resume_at(500).is_ok());  // a new intake directory next to an old database
    EXPECT_EQ(log->durable_end(), 500u);
    EXPECT_EQ(std::move(log->append({"x"})).value()[0], 509u);
  }
  auto log = open();
  EXPECT_EQ(log->start(), 500u);
  EXPECT_TRUE(log->resume_at(509).is_ok());
  EXPECT_EQ(payloads(*log, 500), (std::vector<std::string>{"x"}));
  // Entries that end before what the store applied: not this store's log.
  Status s = log->resume_at(9000);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("belongs to another data directory"), std::string::npos) << s.message();
  s = log->resume_at(100);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("entries are missing"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace tp::storage
