#include "storage/sqlite_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <numeric>
#include <random>
#include <thread>

#include "base/time_format.h"
#include "storage/sqlite_db.h"
#include "storage/sqlite_schema.h"

namespace tp::storage {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tp-store-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto s = open_sqlite_store(dir_.string());
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  static Timestamp at(const char* iso) { return *parse_iso8601(iso); }
  static std::int64_t ms_of(Timestamp t) { return t.time_since_epoch().count(); }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(SqliteStoreTest, TraitsAreLastWriteWinsByEventTime) {
  auto tx = store_->begin_write();
  ASSERT_TRUE(tx.is_ok());
  auto& w = **tx;
  ProfileId p = *w.create_profile("u1", at("2026-01-01T00:00:00Z"));
  ASSERT_TRUE(w.link_identity(IdentityKind::kUser, "u1", p).is_ok());
  ASSERT_TRUE(w.upsert_trait(p, "city", "\"Oslo\"", at("2026-01-02T00:00:00Z")).is_ok());
  ASSERT_TRUE(w.upsert_trait(p, "city", "\"Malmö\"", at("2026-01-01T00:00:00Z")).is_ok());  // older: ignored
  ASSERT_TRUE(w.upsert_trait(p, "plan", "\"gold\"", at("2026-01-01T00:00:00Z")).is_ok());
  ASSERT_TRUE(w.commit().is_ok());
  tx = Result<std::unique_ptr<WriteTransaction>>(internal_error("released"));

  auto reader = store_->open_reader();
  ASSERT_TRUE(reader.is_ok());
  auto found = (*reader)->find_identity(IdentityKind::kUser, "u1");
  ASSERT_TRUE(found.is_ok() && found->has_value());
  auto rec = (*reader)->profile(**found);
  ASSERT_TRUE(rec.is_ok()) << rec.status().message();
  ASSERT_EQ(rec->traits.size(), 2u);
  EXPECT_EQ(rec->traits[0].name, "city");
  EXPECT_EQ(rec->traits[0].json, "\"Oslo\"");
}

// The background checkpointer copies committed WAL frames into the database file: without it
// the WAL grows for ever and every read gets slower.
TEST_F(SqliteStoreTest, CheckpointerCopiesTheWalIntoTheDatabase) {
  const auto db_file = dir_ / "touchpoint.db";
  const auto empty_size = std::filesystem::file_size(db_file);
  for (int i = 0; i < 20; ++i) {
    auto tx = store_->begin_write();
    ASSERT_TRUE(tx.is_ok());
    for (int j = 0; j < 50; ++j) {
      std::string user = "u" + std::to_string(i * 50 + j);
      auto p = (*tx)->create_profile(user, at("2026-01-01T00:00:00Z"));
      ASSERT_TRUE(p.is_ok());
      ASSERT_TRUE((*tx)->upsert_trait(*p, "note", "\"" + std::string(200, 'x') + "\"", at("2026-01-01T00:00:00Z")).is_ok());
    }
    ASSERT_TRUE((*tx)->commit().is_ok());
  }
  // The checkpointer runs every 50 ms; allow a slow machine 10 s. Wait for all of it: a
  // checkpoint that ran while the commits were still coming copied only part of them.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::filesystem::file_size(db_file) <= empty_size + 100 * 1024 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_GT(std::filesystem::file_size(db_file), empty_size + 100 * 1024) << "no checkpoint copied the WAL";
}

TEST_F(SqliteStoreTest, TimelinePagesNewestFirst) {
  {
    auto tx = store_->begin_write();
    auto& w = **tx;
    ProfileId p = *w.create_profile("u1", at("2026-01-01T00:00:00Z"));
    ASSERT_TRUE(w.link_identity(IdentityKind::kUser, "u1", p).is_ok());
    for (int i = 0; i < 5; ++i) {
      std::string id = "m" + std::to_string(i);
      // Two events share a timestamp: the arrival order breaks the tie.
      Timestamp t = at("2026-01-01T00:00:00Z") + Millis(i / 2 * 1000);
      ASSERT_TRUE(w.insert_event({p, id, "track", "E", t, t, "{}"}).is_ok());
    }
    ASSERT_TRUE(w.has_message("m3").value());
    ASSERT_FALSE(w.has_message("m9").value());
    ASSERT_TRUE(w.commit().is_ok());
  }
  auto reader = std::move(store_->open_reader()).value();
  ProfileId p = reader->find_identity(IdentityKind::kUser, "u1").value().value();
  auto page1 = reader->timeline(p, std::nullopt, 3).value();
  ASSERT_EQ(page1.size(), 3u);
  EXPECT_EQ(page1[0].seq, 5);
  EXPECT_EQ(page1[1].seq, 4);
  EXPECT_EQ(page1[2].seq, 3);
  auto page2 = reader->timeline(p, TimelineCursor{page1.back().timestamp, page1.back().seq}, 3).value();
  ASSERT_EQ(page2.size(), 2u);
  EXPECT_EQ(page2[0].seq, 2);
  EXPECT_EQ(page2[1].seq, 1);
}

// Deduplication looks messageIds up by a 64-bit key of the text; a row whose key matches but
// whose text differs (a collision) is not the same message.
TEST_F(SqliteStoreTest, AMessageIsSeenOnlyUnderItsOwnIdWhenKeysCollide) {
  {
    auto tx = store_->begin_write();
    auto& w = **tx;
    ProfileId p = *w.create_profile("u1", at("2026-01-01T00:00:00Z"));
    ASSERT_TRUE(w.insert_event({p, "m1", "track", "E", at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z"), "{}"}).is_ok());
    ASSERT_TRUE(w.commit().is_ok());
  }
  store_.reset();
  {
    // Another id's row under the key of "m2", as a collision would leave it.
    auto db = std::move(sqlite::Database::open((dir_ / "touchpoint.db").string(), sqlite::Database::Mode::kReadWrite)).value();
    auto q = std::move(db->prepare("INSERT INTO events(profile_id, message_key, message_id, type, ts, received_at, body) "
                                   "VALUES(1, ?, 'not-m2', 'track', 0, 0, '{}')")).value();
    ASSERT_TRUE(q.bind(1, sqlite::message_key("m2")).run().is_ok());
  }
  store_ = std::move(open_sqlite_store(dir_.string())).value();
  auto tx = store_->begin_write();
  EXPECT_TRUE((*tx)->has_message("m1").value());
  EXPECT_FALSE((*tx)->has_message("m2").value());
}

// Deduplication keeps its keys in memory: an event another connection commits (an import
// process beside the server) is seen by the store's next write transaction.
TEST_F(SqliteStoreTest, AMessageAnotherConnectionStoredIsSeen) {
  {
    auto tx = store_->begin_write();
    ASSERT_TRUE((*tx)->create_profile("u1", at("2026-01-01T00:00:00Z")).is_ok());
    ASSERT_FALSE((*tx)->has_message("m-import").value());
    ASSERT_TRUE((*tx)->commit().is_ok());
  }
  {
    auto db = std::move(sqlite::Database::open((dir_ / "touchpoint.db").string(), sqlite::Database::Mode::kReadWrite)).value();
    auto q = std::move(db->prepare("INSERT INTO events(profile_id, message_key, message_id, type, ts, received_at, body) "
                                   "VALUES(1, ?, 'm-import', 'track', 0, 0, '{}')")).value();
    ASSERT_TRUE(q.bind(1, sqlite::message_key("m-import")).run().is_ok());
  }
  auto tx = store_->begin_write();
  EXPECT_TRUE((*tx)->has_message("m-import").value());
}

// A message whose transaction rolled back was not stored: it is not a duplicate later, also
// when another message takes its seq.
TEST_F(SqliteStoreTest, AMessageRolledBackIsNotSeen) {
  const Timestamp t = at("2026-01-01T00:00:00Z");
  ProfileId p;
  {
    auto tx = store_->begin_write();
    p = *(*tx)->create_profile("u1", t);
    ASSERT_TRUE((*tx)->commit().is_ok());
  }
  {
    auto tx = store_->begin_write();
    ASSERT_TRUE((*tx)->insert_event({p, "m-gone", "track", "E", t, t, "{}"}).is_ok());
    EXPECT_TRUE((*tx)->has_message("m-gone").value());
  }  // rolled back
  {
    auto tx = store_->begin_write();
    EXPECT_FALSE((*tx)->has_message("m-gone").value());
    ASSERT_TRUE((*tx)->insert_event({p, "m-other", "track", "E", t, t, "{}"}).is_ok());  // the same seq
    EXPECT_FALSE((*tx)->has_message("m-gone").value());
    ASSERT_TRUE((*tx)->savepoint().is_ok());
    ASSERT_TRUE((*tx)->insert_event({p, "m-part", "track", "E", t, t, "{}"}).is_ok());
    ASSERT_TRUE((*tx)->rollback_to_savepoint().is_ok());
    EXPECT_FALSE((*tx)->has_message("m-part").value());
    EXPECT_TRUE((*tx)->has_message("m-other").value());
    ASSERT_TRUE((*tx)->commit().is_ok());
  }
  store_.reset();
  store_ = std::move(open_sqlite_store(dir_.string())).value();
  auto tx = store_->begin_write();
  EXPECT_TRUE((*tx)->has_message("m-other").value());
  EXPECT_FALSE((*tx)->has_message("m-gone").value());
  EXPECT_FALSE((*tx)->has_message("m-part").value());
}

// The writer caches identity -> profile; what it answers must always be what the database
// holds: after a merge, an erasure, a rollback, a savepoint rolled back, and another
// connection's commit.
TEST_F(SqliteStoreTest, IdentityLookupsFollowEveryChange) {
  const Timestamp t = at("2026-01-01T00:00:00Z");
  auto find = [&](std::string_view user) -> std::optional<ProfileId> {
    auto tx = store_->begin_write();
    EXPECT_TRUE(tx.is_ok());
    auto found = (*tx)->find_identity(IdentityKind::kUser, user);
    EXPECT_TRUE(found.is_ok()) << found.status().message();
    EXPECT_TRUE((*tx)->commit().is_ok());
    return found.is_ok() ? *found : std::nullopt;
  };
  ProfileId a, b;
  {
    auto tx = store_->begin_write();
    a = *(*tx)->create_profile("ua", t);
    b = *(*tx)->create_profile("ub", t);
    ASSERT_TRUE((*tx)->link_identity(IdentityKind::kUser, "ua", a).is_ok());
    ASSERT_TRUE((*tx)->link_identity(IdentityKind::kUser, "ub", b).is_ok());
    ASSERT_TRUE((*tx)->commit().is_ok());
  }
  EXPECT_EQ(find("ua"), a);  // cached from here on
  EXPECT_EQ(find("ua"), a);

  {  // a merge rolled back changes nothing; inside its transaction the lookup sees the merge
    auto tx = store_->begin_write();
    ASSERT_TRUE((*tx)->merge_profiles(a, b).is_ok());
    EXPECT_EQ(*(*tx)->find_identity(IdentityKind::kUser, "ua"), b);
  }
  EXPECT_EQ(find("ua"), a);

  {  // a link rolled back to a savepoint
    auto tx = store_->begin_write();
    ASSERT_TRUE((*tx)->savepoint().is_ok());
    ASSERT_TRUE((*tx)->link_identity(IdentityKind::kUser, "ua", b).is_ok());
    EXPECT_EQ(*(*tx)->find_identity(IdentityKind::kUser, "ua"), b);
    ASSERT_TRUE((*tx)->rollback_to_savepoint().is_ok());
    EXPECT_EQ(*(*tx)->find_identity(IdentityKind::kUser, "ua"), a);
    ASSERT_TRUE((*tx)->commit().is_ok());
  }
  EXPECT_EQ(find("ua"), a);

  {  // a merge committed
    auto tx = store_->begin_write();
    EXPECT_EQ(*(*tx)->find_identity(IdentityKind::kUser, "ub"), b);
    ASSERT_TRUE((*tx)->merge_profiles(a, b).is_ok());
    ASSERT_TRUE((*tx)->commit().is_ok());
  }
  EXPECT_EQ(find("ua"), b);
  EXPECT_EQ(find("ub"), b);

  {  // an erasure committed
    auto tx = store_->begin_write();
    ASSERT_TRUE((*tx)->delete_profile(b).is_ok());
    ASSERT_TRUE((*tx)->commit().is_ok());
  }
  EXPECT_EQ(find("ua"), std::nullopt);
  EXPECT_EQ(find("ub"), std::nullopt);

  ProfileId c;
  {  // a new link, then another connection (an import beside the server) re-points it
    auto tx = store_->begin_write();
    c = *(*tx)->create_profile("uc", t);
    ASSERT_TRUE((*tx)->link_identity(IdentityKind::kUser, "uc", c).is_ok());
    ASSERT_TRUE((*tx)->commit().is_ok());
  }
  EXPECT_EQ(find("uc"), c);
  {
    auto db = std::move(sqlite::Database::open((dir_ / "touchpoint.db").string(), sqlite::Database::Mode::kReadWrite)).value();
    ASSERT_TRUE(db->exec("INSERT INTO profiles(id, user_id, created_at) VALUES(1000, 'other', 0)").is_ok());
    ASSERT_TRUE(db->exec("UPDATE identities SET profile_id=1000 WHERE value='uc'").is_ok());
  }
  EXPECT_EQ(find("uc"), ProfileId{1000});
}

// A database of schema version 1 (a UNIQUE index on the messageId text) keeps its events and
// their deduplication when the store opens it.
TEST_F(SqliteStoreTest, VersionOneEventsAreMigratedWithTheirKeys) {
  store_.reset();
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  const std::string path = (dir_ / "touchpoint.db").string();
  {
    auto db = std::move(sqlite::Database::open(path, sqlite::Database::Mode::kReadWrite)).value();
    ASSERT_TRUE(sqlite::migrate(*db, at("2026-01-01T00:00:00Z"), sqlite::store_migrations().first(1)).is_ok());
    ASSERT_TRUE(db->exec("INSERT INTO profiles(id, user_id, created_at) VALUES(1, 'u1', 0);"
                         "INSERT INTO identities(kind, value, profile_id) VALUES(1, 'u1', 1);"
                         "INSERT INTO events(profile_id, message_id, type, event, ts, received_at, body) VALUES"
                         "(1, 'old-1', 'track', 'A', 1000, 1000, '{\"n\":1}'),"
                         "(1, 'old-2', 'track', 'B', 2000, 2000, '{\"n\":2}')")
                    .is_ok());
  }
  auto opened = open_sqlite_store(dir_.string());
  ASSERT_TRUE(opened.is_ok()) << opened.status().message();
  store_ = std::move(opened).value();
  {
    auto tx = store_->begin_write();
    EXPECT_TRUE((*tx)->has_message("old-1").value());
    EXPECT_TRUE((*tx)->has_message("old-2").value());
    EXPECT_FALSE((*tx)->has_message("old-3").value());
  }
  auto reader = std::move(store_->open_reader()).value();
  auto page = reader->timeline(1, std::nullopt, 10).value();
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].seq, 2);
  EXPECT_EQ(page[1].seq, 1);
  auto db = std::move(sqlite::Database::open(path, sqlite::Database::Mode::kReadOnly)).value();
  auto q = std::move(db->prepare("SELECT message_key FROM events WHERE message_id='old-2'")).value();
  ASSERT_TRUE(q.step().value());
  EXPECT_EQ(q.column_int(0), sqlite::message_key("old-2"));
}

TEST_F(SqliteStoreTest, MergeMovesEverythingAndLaterTraitWins) {
  ProfileId a, b;
  {
    auto tx = store_->begin_write();
    auto& w = **tx;
    a = *w.create_profile("", at("2026-01-01T00:00:00Z"));
    b = *w.create_profile("u1", at("2026-01-01T00:00:00Z"));
    ASSERT_TRUE(w.link_identity(IdentityKind::kAnonymous, "anon", a).is_ok());
    ASSERT_TRUE(w.link_identity(IdentityKind::kUser, "u1", b).is_ok());
    ASSERT_TRUE(w.upsert_trait(a, "city", "\"Bergen\"", at("2026-01-03T00:00:00Z")).is_ok());
    ASSERT_TRUE(w.upsert_trait(b, "city", "\"Oslo\"", at("2026-01-02T00:00:00Z")).is_ok());
    ASSERT_TRUE(w.insert_event({a, "m1", "page", "", at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z"), "{}"}).is_ok());
    ASSERT_TRUE(w.merge_profiles(a, b).is_ok());
    ASSERT_TRUE(w.commit().is_ok());
  }
  auto reader = std::move(store_->open_reader()).value();
  EXPECT_EQ(reader->find_identity(IdentityKind::kAnonymous, "anon").value(), std::optional<ProfileId>(b));
  auto rec = reader->profile(b).value();
  EXPECT_EQ(rec.traits.at(0).json, "\"Bergen\"");
  EXPECT_EQ(reader->timeline(b, std::nullopt, 10).value().size(), 1u);
  EXPECT_EQ(reader->profile(a).status().code(), StatusCode::kNotFound);
}

// The timeline is written in bulk (docs/storage.md, "Timeline"): with tiny generations and
// chunks, events, merges, erasures and rolled-back parts go through many flushes, some halfway
// through a profile range, and every card reads what a plain model of the profiles says, also
// from a second store on the same directory (an import beside the server) and after reopening.
TEST_F(SqliteStoreTest, TimelineMatchesAModelThroughBulkFlushes) {
  const TimelineOptions tiny{7, 3};
  store_.reset();
  store_ = std::move(open_sqlite_store(dir_.string(), tiny)).value();
  struct Event {
    std::int64_t ts;
    std::string body;
  };
  std::map<ProfileId, std::vector<Event>> model;  // oldest first
  std::mt19937 rng(7);
  std::vector<std::int64_t> times(3000);
  std::iota(times.begin(), times.end(), 1'000'000);
  std::shuffle(times.begin(), times.end(), rng);  // distinct event times, not in arrival order
  size_t next_time = 0;
  int next_message = 0;

  auto check = [&](Store& store, const char* where) {
    auto reader = std::move(store.open_reader()).value();
    for (const auto& [p, events] : model) {
      std::vector<Event> want = events;
      std::sort(want.begin(), want.end(), [](const Event& a, const Event& b) { return a.ts > b.ts; });
      std::vector<Event> got;
      std::optional<TimelineCursor> cursor;
      while (true) {
        auto page = reader->timeline(p, cursor, 4).value();
        for (const auto& e : page) got.push_back({ms_of(e.timestamp), e.body});
        if (page.size() < 4) break;
        cursor = TimelineCursor{page.back().timestamp, page.back().seq};
      }
      ASSERT_EQ(got.size(), want.size()) << where << ", profile " << p;
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].ts, want[i].ts) << where << ", profile " << p << ", entry " << i;
        ASSERT_EQ(got[i].body, want[i].body) << where << ", profile " << p << ", entry " << i;
      }
      auto card = reader->profile(p).value();
      if (!want.empty()) {
        ASSERT_EQ(ms_of(*card.last_seen), want.front().ts) << where;
        ASSERT_EQ(ms_of(*card.first_seen), want.back().ts) << where;
      }
    }
  };
  auto add_event = [&](WriteTransaction& w, ProfileId p, std::vector<Event>& into) {
    std::string id = "m" + std::to_string(next_message++);
    Timestamp t = Timestamp(Millis(times.at(next_time++)));
    std::string body = "{\"m\":\"" + id + "\"}";
    ASSERT_TRUE(w.insert_event({p, id, "track", "E", t, t, body}).is_ok());
    into.push_back({ms_of(t), body});
  };

  for (int round = 0; round < 120; ++round) {
    Store& store = *store_;
    auto tx = store.begin_write();
    auto& w = **tx;
    std::map<ProfileId, std::vector<Event>> added;
    if (model.size() < 6 || rng() % 4 == 0) {
      ProfileId p = *w.create_profile("", at("2026-01-01T00:00:00Z"));
      model[p];
    }
    std::vector<ProfileId> ids;
    for (const auto& [p, events] : model) ids.push_back(p);
    const int n = static_cast<int>(rng() % 9);
    for (int i = 0; i < n; ++i) {
      ProfileId p = ids[rng() % ids.size()];
      add_event(w, p, added[p]);
    }
    if (rng() % 5 == 0) {  // a request that fails and rolls back to its savepoint
      ASSERT_TRUE(w.savepoint().is_ok());
      std::vector<Event> lost;
      add_event(w, ids[0], lost);
      ASSERT_TRUE(w.rollback_to_savepoint().is_ok());
    }
    std::optional<std::pair<ProfileId, ProfileId>> merged;
    std::optional<ProfileId> erased;
    if (ids.size() > 4 && rng() % 7 == 0) {
      merged = {ids[rng() % ids.size()], ids[rng() % ids.size()]};
      if (merged->first == merged->second) merged.reset();
      if (merged) {
        ASSERT_TRUE(w.merge_profiles(merged->first, merged->second).is_ok());
        if (rng() % 2) add_event(w, merged->second, added[merged->second]);
      }
    } else if (ids.size() > 4 && rng() % 9 == 0) {
      erased = ids[rng() % ids.size()];
      ASSERT_TRUE(w.delete_profile(*erased).is_ok());
    }
    ASSERT_TRUE(w.commit().is_ok());
    tx = Result<std::unique_ptr<WriteTransaction>>(std::unique_ptr<WriteTransaction>());
    for (auto& [p, events] : added) model[p].insert(model[p].end(), events.begin(), events.end());
    if (merged) {
      auto& from = model[merged->first];
      auto& into = model[merged->second];
      into.insert(into.end(), from.begin(), from.end());
      model.erase(merged->first);
    }
    if (erased) model.erase(*erased);
    if (round % 10 == 9) check(*store_, "serving");
    if (round == 60) {  // a second store writes beside the first, flushing as it goes
      auto other = std::move(open_sqlite_store(dir_.string(), tiny)).value();
      for (int i = 0; i < 20; ++i) {
        auto otx = other->begin_write();
        ProfileId p = ids[static_cast<size_t>(i) % ids.size()];
        if (!model.count(p)) continue;
        add_event(**otx, p, model[p]);
        ASSERT_TRUE((*otx)->commit().is_ok());
      }
      check(*store_, "after the second store wrote");
    }
  }
  check(*store_, "at the end");
  store_.reset();
  store_ = std::move(open_sqlite_store(dir_.string(), tiny)).value();
  check(*store_, "reopened");
  // Flushes happened: most of the events are in the on-disk timeline.
  auto db = std::move(sqlite::Database::open((dir_ / "touchpoint.db").string(), sqlite::Database::Mode::kReadOnly)).value();
  auto q = std::move(db->prepare("SELECT count(*) FROM timeline")).value();
  ASSERT_TRUE(q.step().value());
  EXPECT_GT(q.column_int(0), 200);
}

// A card read racing the writer's flushes: events are only ever added, so a person's timeline
// never shrinks from one read to the next and never shows an event twice, whichever flush
// completed while a read's snapshot was open.
TEST_F(SqliteStoreTest, TimelineReadsRacingFlushesNeverLoseAnEvent) {
  store_.reset();
  store_ = std::move(open_sqlite_store(dir_.string(), TimelineOptions{8, 1})).value();
  std::vector<ProfileId> people;
  {
    auto tx = store_->begin_write();
    for (int i = 0; i < 4; ++i) people.push_back(*(*tx)->create_profile("", at("2026-01-01T00:00:00Z")));
    ASSERT_TRUE((*tx)->commit().is_ok());
  }
  constexpr int kEvents = 3000;
  std::atomic<bool> stop{false}, failed{false};
  std::thread writer([&] {
    for (int i = 0; i < kEvents && !stop; ++i) {
      auto tx = store_->begin_write();
      Timestamp t = Timestamp(Millis(1'000'000 + i));
      if (!tx.is_ok() || !(*tx)->insert_event({people[static_cast<size_t>(i) % people.size()], "m" + std::to_string(i),
                                               "track", "E", t, t, "{}"}).is_ok() || !(*tx)->commit().is_ok())
        failed = true;
    }
    stop = true;
  });
  struct Join {
    std::thread& t;
    std::atomic<bool>& stop;
    ~Join() {
      stop = true;
      t.join();
    }
  } join{writer, stop};
  auto reader = std::move(store_->open_reader()).value();
  size_t last = 0;
  for (int reads = 0; !stop || reads < 10; ++reads) {
    auto page = reader->timeline(people[0], std::nullopt, 1000).value();
    for (size_t i = 1; i < page.size(); ++i)
      ASSERT_GT(std::pair(page[i - 1].timestamp, page[i - 1].seq), std::pair(page[i].timestamp, page[i].seq));
    ASSERT_GE(page.size(), last) << "read " << reads;
    last = page.size();
  }
  EXPECT_FALSE(failed);
  EXPECT_EQ(reader->timeline(people[0], std::nullopt, 1000).value().size(), static_cast<size_t>(kEvents / 4));
}

TEST_F(SqliteStoreTest, ReopenKeepsDataAndSchema) {
  ASSERT_TRUE(store_->create_key("hash", KeyKind::kAdmin, "ops", at("2026-01-01T00:00:00Z")).is_ok());
  std::string salt = store_->secret("salt").value();
  store_.reset();
  store_ = std::move(open_sqlite_store(dir_.string())).value();
  EXPECT_EQ(store_->secret("salt").value(), salt);
  auto key = std::move(store_->open_reader()).value()->find_key("hash").value();
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->kind, KeyKind::kAdmin);
}

TEST_F(SqliteStoreTest, UnwritableDirectoryIsAClearError) {
  auto s = open_sqlite_store((dir_ / "missing" / "deeper").string());
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.status().message().find("cannot open database"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace tp::storage
