#include "storage/message_index.h"

#include <fmt/format.h>

#include <utility>

namespace tp::storage {

Status MessageIndex::add(std::uint64_t key, std::int64_t seq) {
  if (seq < 1 || seq > kMaxSeq)
    return internal_error(fmt::format("message index: event seq {} is outside 1..{}", seq, kMaxSeq));
  if ((count_ + 1) * 4 > slots_.size() * 3) {
    if (slot_bits_ < kTagBits) {
      resize(slot_bits_ + 1);
    } else if ((count_ + 1) * 20 > slots_.size() * 19) {
      return unavailable(fmt::format(
          "message index: {} events is the most the embedded store deduplicates; use PostgreSQL", count_));
    }
  }
  place((key >> kSeqBits) << kSeqBits | static_cast<std::uint64_t>(seq));
  ++count_;
  return Status::ok();
}

void MessageIndex::reserve(size_t entries) {
  int bits = slot_bits_;
  while (bits < kTagBits && entries * 4 > (size_t{1} << bits) * 3) ++bits;
  if (bits > slot_bits_) resize(bits);
}

void MessageIndex::place(std::uint64_t slot) {
  size_t i = home(slot >> kSeqBits);
  while (slots_[i] != 0) i = (i + 1) & mask_;
  slots_[i] = slot;
}

void MessageIndex::resize(int slot_bits) {
  std::vector<std::uint64_t> old = std::exchange(slots_, std::vector<std::uint64_t>(size_t{1} << slot_bits, 0));
  slot_bits_ = slot_bits;
  mask_ = slots_.size() - 1;
  for (std::uint64_t slot : old)
    if (slot != 0) place(slot);
}

}  // namespace tp::storage
