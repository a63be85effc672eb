#include "storage/recent_events.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace tp::storage {
namespace {

using Entry = RecentEvents::Entry;

// The page a card reads, worked out the plain way: every entry in range before the cursor,
// newest first by (ts, seq), the first `limit`.
std::vector<Entry> brute_newest(const std::vector<std::pair<std::int64_t, Entry>>& all, std::int64_t profile,
                                std::int64_t after, std::int64_t upto, Entry before, size_t limit) {
  std::vector<Entry> out;
  for (const auto& [p, e] : all)
    if (p == profile && e.seq > after && e.seq <= upto && std::pair(e.ts, e.seq) < std::pair(before.ts, before.seq))
      out.push_back(e);
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return std::pair(a.ts, a.seq) > std::pair(b.ts, b.seq); });
  if (out.size() > limit) out.resize(limit);
  return out;
}

// Pages and time spans agree with the plain answer, for events that arrive in time order (the
// binary search) and for events that do not (the scan).
TEST(RecentEventsTest, PagesAndSpansMatchThePlainAnswer) {
  for (bool shuffled : {false, true}) {
    RecentEvents recent;
    recent.reset(100);
    std::mt19937 rng(shuffled ? 2 : 1);
    std::vector<std::pair<std::int64_t, Entry>> all;
    for (std::int64_t seq = 101; seq <= 600; ++seq) {
      std::int64_t profile = static_cast<std::int64_t>(rng() % 3);
      std::int64_t ts = shuffled ? static_cast<std::int64_t>(rng() % 200) : seq / 3;  // ties too
      recent.add(profile, {ts, seq});
      all.push_back({profile, {ts, seq}});
    }
    EXPECT_EQ(recent.size(), 500u);
    EXPECT_EQ(recent.through(), 600);
    for (int trial = 0; trial < 300; ++trial) {
      std::int64_t profile = static_cast<std::int64_t>(rng() % 3);
      std::int64_t after = 100 + static_cast<std::int64_t>(rng() % 300);
      std::int64_t upto = after + static_cast<std::int64_t>(rng() % 300);
      Entry before = trial % 4 == 0 ? Entry{INT64_MAX, INT64_MAX}
                                    : Entry{static_cast<std::int64_t>(rng() % 220), static_cast<std::int64_t>(rng() % 700)};
      size_t limit = 1 + rng() % 40;
      auto got = recent.newest(profile, after, upto, before, limit);
      auto want = brute_newest(all, profile, after, upto, before, limit);
      ASSERT_EQ(got.size(), want.size()) << "shuffled " << shuffled << " trial " << trial;
      for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i].seq, want[i].seq) << "trial " << trial;

      auto span = recent.time_span(profile, after, upto);
      auto every = brute_newest(all, profile, after, upto, {INT64_MAX, INT64_MAX}, SIZE_MAX);
      ASSERT_EQ(span.has_value(), !every.empty());
      if (span) {
        auto [lo, hi] = std::minmax_element(every.begin(), every.end(), [](auto& a, auto& b) { return a.ts < b.ts; });
        EXPECT_EQ(span->first, lo->ts);
        EXPECT_EQ(span->second, hi->ts);
      }
    }
  }
}

TEST(RecentEventsTest, AddingTwiceMoveEraseAndDrop) {
  RecentEvents recent;
  recent.reset(10);
  recent.add(1, {5, 9});  // at or below the floor: the timeline has it
  recent.add(1, {5, 11});
  recent.add(1, {7, 13});
  recent.add(1, {6, 12});  // late, in the middle
  recent.add(1, {6, 12});  // a reader's catch-up and the writer both add it
  recent.add(2, {1, 14});
  EXPECT_EQ(recent.size(), 4u);
  EXPECT_EQ(recent.entries(1, 10, 100).size(), 3u);
  EXPECT_EQ(recent.profiles(10, 100), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(recent.profiles(13, 100), (std::vector<std::int64_t>{2}));

  recent.move(2, 1);  // a merge
  EXPECT_EQ(recent.entries(2, 0, 100).size(), 0u);
  auto page = recent.newest(1, 0, 100, {INT64_MAX, INT64_MAX}, 10);
  ASSERT_EQ(page.size(), 4u);
  EXPECT_EQ(page.front().seq, 13);  // ts 7
  EXPECT_EQ(page.back().seq, 14);   // ts 1: the merged events are not in time order
  EXPECT_EQ(recent.time_span(1, 0, 100), std::optional(std::pair<std::int64_t, std::int64_t>(1, 7)));

  recent.drop_through(12);  // a completed flush
  EXPECT_EQ(recent.floor(), 12);
  EXPECT_EQ(recent.size(), 2u);
  recent.add(3, {2, 12});  // at the floor now: not held
  EXPECT_EQ(recent.size(), 2u);
  recent.erase(1);  // an erasure
  EXPECT_EQ(recent.size(), 0u);
  EXPECT_TRUE(recent.profiles(0, 100).empty());
}

}  // namespace
}  // namespace tp::storage
