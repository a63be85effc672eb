// MessageIndex: the store's deduplication index, in memory. It maps the 64-bit key of each stored
// event's messageId (sqlite::message_key) to the event's seq, so that asking whether a message is
// already stored reads no index page from the disk, and storing one writes none (docs/storage.md,
// "Deduplication"). The store fills it from the database when it opens.
//
// An entry is a candidate, never an answer: the caller checks the row it names. Keys can collide,
// and an entry can outlive its row (an erased event, a rolled-back insert); neither is removed.
//
// Layout: open addressing with linear probing, at most three quarters full, one 8-byte word per
// slot: the top 28 bits of the key and a 36-bit seq. The slot an entry belongs in is given by the
// top bits of the key, so the stored bits are enough to move every entry when the table doubles,
// up to 2^28 slots (~200 million events). 10.7-21 bytes per event.
//
// Not thread-safe: the store's one writer uses it.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"

namespace tp::storage {

class MessageIndex {
 public:
  static constexpr int kSeqBits = 36;
  static constexpr std::int64_t kMaxSeq = (std::int64_t{1} << kSeqBits) - 1;

  MessageIndex() { resize(kMinSlotBits); }

  // Calls `is_match(seq)` (returning Result<bool>) for each entry that may hold `key`, until one
  // returns true; false when none does.
  template <typename IsMatch>
  Result<bool> find(std::uint64_t key, IsMatch&& is_match) const {
    const std::uint64_t tag = key >> kSeqBits;
    for (size_t i = home(tag);; i = (i + 1) & mask_) {
      const std::uint64_t slot = slots_[i];
      if (slot == 0) return false;
      if (slot >> kSeqBits != tag) continue;
      auto match = is_match(static_cast<std::int64_t>(slot & kMaxSeq));
      if (!match.is_ok()) return match.status();
      if (*match) return true;
    }
  }

  // Records that the event `seq` (1..kMaxSeq) holds `key`.
  Status add(std::uint64_t key, std::int64_t seq);

  // Makes room for `entries` in all, so that loading them does not double the table many times.
  void reserve(size_t entries);

  size_t size() const { return count_; }
  size_t memory_bytes() const { return slots_.size() * sizeof(std::uint64_t); }

 private:
  static constexpr int kTagBits = 64 - kSeqBits;
  static constexpr int kMinSlotBits = 10;

  size_t home(std::uint64_t tag) const { return static_cast<size_t>(tag >> (kTagBits - slot_bits_)); }
  void place(std::uint64_t slot);
  void resize(int slot_bits);

  std::vector<std::uint64_t> slots_;  // 0: empty
  int slot_bits_ = 0;
  size_t mask_ = 0;
  size_t count_ = 0;
};

}  // namespace tp::storage
