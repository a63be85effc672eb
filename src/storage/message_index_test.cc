#include "storage/message_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace tp::storage {
namespace {

// The seqs offered for `key`, in the order find() offers them (it is told none matches).
std::vector<std::int64_t> candidates(const MessageIndex& index, std::uint64_t key) {
  std::vector<std::int64_t> out;
  auto found = index.find(key, [&](std::int64_t seq) -> Result<bool> {
    out.push_back(seq);
    return false;
  });
  EXPECT_FALSE(found.value());
  return out;
}

TEST(MessageIndexTest, OffersTheSeqOfEveryEntryWithTheKeyUntilOneMatches) {
  MessageIndex index;
  ASSERT_TRUE(index.add(0x1234'5678'9abc'def0, 7).is_ok());
  ASSERT_TRUE(index.add(0x1234'5678'9abc'def0, 9).is_ok());  // the same key again: a collision, or a stale entry
  EXPECT_EQ(candidates(index, 0x1234'5678'9abc'def0), (std::vector<std::int64_t>{7, 9}));
  EXPECT_TRUE(candidates(index, 0x4321'5678'9abc'def0).empty());

  std::vector<std::int64_t> asked;
  auto found = index.find(0x1234'5678'9abc'def0, [&](std::int64_t seq) -> Result<bool> {
    asked.push_back(seq);
    return seq == 7;
  });
  EXPECT_TRUE(found.value());
  EXPECT_EQ(asked, std::vector<std::int64_t>{7});
}

TEST(MessageIndexTest, KeysThatDifferOnlyInTheirLowBitsAreCandidatesForEachOther) {
  // Only the top 28 bits are kept: the check against the row is what tells such keys apart.
  MessageIndex index;
  ASSERT_TRUE(index.add(0xabcd'ef12'3000'0001, 1).is_ok());
  EXPECT_EQ(candidates(index, 0xabcd'ef12'3fff'ffff), std::vector<std::int64_t>{1});
  EXPECT_TRUE(candidates(index, 0xabcd'ef22'3000'0001).empty());
}

TEST(MessageIndexTest, EveryEntryIsFoundAfterTheTableDoubledManyTimes) {
  MessageIndex index;
  std::mt19937_64 random(42);
  std::vector<std::uint64_t> keys(190'000);
  for (auto& k : keys) k = random();
  for (size_t i = 0; i < keys.size(); ++i) ASSERT_TRUE(index.add(keys[i], static_cast<std::int64_t>(i + 1)).is_ok());
  EXPECT_EQ(index.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    auto seqs = candidates(index, keys[i]);
    ASSERT_NE(std::find(seqs.begin(), seqs.end(), static_cast<std::int64_t>(i + 1)), seqs.end()) << i;
    // Other candidates share the top 28 bits by chance; with 190k keys that is rare.
    ASSERT_LE(seqs.size(), 3u) << i;
  }
  // At most three quarters full after growing: 262,144 slots of 8 bytes hold 196,608.
  EXPECT_EQ(index.memory_bytes(), 262'144u * 8);
}

TEST(MessageIndexTest, ReserveSizesTheTableOnce) {
  MessageIndex index;
  index.reserve(3'000'000);
  const size_t bytes = index.memory_bytes();
  EXPECT_EQ(bytes, (size_t{1} << 22) * 8);  // 4,194,304 slots hold 3,145,728 at three quarters
  for (std::int64_t seq = 1; seq <= 100'000; ++seq)
    ASSERT_TRUE(index.add(static_cast<std::uint64_t>(seq) * 0x9E37'79B9'7F4A'7C15ULL, seq).is_ok());
  EXPECT_EQ(index.memory_bytes(), bytes);
}

TEST(MessageIndexTest, ASeqOutsideWhatASlotHoldsIsAnError) {
  MessageIndex index;
  EXPECT_EQ(index.add(1, 0).code(), StatusCode::kInternal);
  EXPECT_EQ(index.add(1, MessageIndex::kMaxSeq + 1).code(), StatusCode::kInternal);
  EXPECT_TRUE(index.add(1, MessageIndex::kMaxSeq).is_ok());
  EXPECT_EQ(candidates(index, 1), std::vector<std::int64_t>{MessageIndex::kMaxSeq});
}

}  // namespace
}  // namespace tp::storage
