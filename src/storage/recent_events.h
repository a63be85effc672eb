// RecentEvents: the events the on-disk timeline does not hold yet, by profile, in memory
// (docs/storage.md, "Timeline"). The embedded store writes an event's timeline entry in bulk,
// many thousands at a time sorted by profile, instead of one random index page per event at
// every commit; until then a card read finds the event here.
//
// One per open store, shared by its writer and its readers: every member function expects the
// caller to hold `mu`. Entries are (event time, seq) pairs, each profile's sorted by seq.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tp::storage {

class RecentEvents {
 public:
  struct Entry {
    std::int64_t ts;   // event time, ms since the epoch
    std::int64_t seq;  // the event's row
  };

  std::mutex mu;

  // Every event with floor < seq <= through that was committed is held (entries at or below
  // floor were dropped: the timeline holds them). A reader whose snapshot asks for entries at or
  // below floor is behind a completed flush and reads again.
  std::int64_t floor() const { return floor_; }
  std::int64_t through() const { return through_; }
  size_t size() const { return size_; }

  // Starts empty at `seq`: the timeline holds every event up to it.
  void reset(std::int64_t seq);

  // Adds an event; one already held (the same seq) is not added twice. Raises through to seq.
  void add(std::int64_t profile, Entry entry);

  // The profile's entries with seq in (after, upto], oldest first.
  std::vector<Entry> entries(std::int64_t profile, std::int64_t after, std::int64_t upto) const;
  // Of those, the newest `limit` that sort before `before` by (ts, seq), newest first: a card's
  // page. A binary search when the profile's events arrived in time order (the usual case).
  std::vector<Entry> newest(std::int64_t profile, std::int64_t after, std::int64_t upto, Entry before,
                            size_t limit) const;
  // Of those, the earliest and the latest event time, if any.
  std::optional<std::pair<std::int64_t, std::int64_t>> time_span(std::int64_t profile, std::int64_t after,
                                                                  std::int64_t upto) const;
  // Profiles with an entry in (after, upto], ascending.
  std::vector<std::int64_t> profiles(std::int64_t after, std::int64_t upto) const;

  // A merge: `from`'s entries become `into`'s.
  void move(std::int64_t from, std::int64_t into);
  // An erasure: the profile's entries go.
  void erase(std::int64_t profile);
  // A completed flush: entries up to `seq` are in the timeline now.
  void drop_through(std::int64_t seq);

 private:
  struct Events {
    std::vector<Entry> entries;  // by seq
    bool in_time_order = true;   // the entries' times never go down either
  };
  using Span = std::pair<std::vector<Entry>::const_iterator, std::vector<Entry>::const_iterator>;
  Span span(std::int64_t profile, std::int64_t after, std::int64_t upto, bool* in_time_order) const;

  std::unordered_map<std::int64_t, Events> by_profile_;
  std::int64_t floor_ = 0;
  std::int64_t through_ = 0;
  size_t size_ = 0;
};

}  // namespace tp::storage
