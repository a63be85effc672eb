#include "storage/recent_events.h"

#include <algorithm>

namespace tp::storage {
namespace {
using Entry = RecentEvents::Entry;
bool by_seq(const Entry& a, const Entry& b) { return a.seq < b.seq; }
bool by_time(const Entry& a, const Entry& b) { return std::pair(a.ts, a.seq) < std::pair(b.ts, b.seq); }
bool in_time_order(const std::vector<Entry>& v) {
  return std::is_sorted(v.begin(), v.end(), [](const Entry& a, const Entry& b) { return a.ts < b.ts; });
}
}  // namespace

void RecentEvents::reset(std::int64_t seq) {
  by_profile_.clear();
  floor_ = through_ = seq;
  size_ = 0;
}

void RecentEvents::add(std::int64_t profile, Entry entry) {
  if (entry.seq <= floor_) return;
  auto& events = by_profile_[profile];
  auto& v = events.entries;
  // Events arrive in seq order, so this is nearly always an append.
  if (v.empty() || v.back().seq < entry.seq) {
    if (!v.empty() && entry.ts < v.back().ts) events.in_time_order = false;
    v.push_back(entry);
  } else {
    auto it = std::lower_bound(v.begin(), v.end(), entry, by_seq);
    if (it != v.end() && it->seq == entry.seq) {
      *it = entry;
    } else {
      v.insert(it, entry);
      ++size_;
    }
    events.in_time_order = in_time_order(v);
    return;
  }
  ++size_;
  through_ = std::max(through_, entry.seq);
}

RecentEvents::Span RecentEvents::span(std::int64_t profile, std::int64_t after, std::int64_t upto,
                                      bool* time_ordered) const {
  auto found = by_profile_.find(profile);
  if (found == by_profile_.end()) return {};
  const auto& v = found->second.entries;
  auto from = std::upper_bound(v.begin(), v.end(), Entry{0, after}, by_seq);
  auto to = std::upper_bound(from, v.end(), Entry{0, upto}, by_seq);
  if (time_ordered) *time_ordered = found->second.in_time_order;
  return {from, to};
}

std::vector<Entry> RecentEvents::entries(std::int64_t profile, std::int64_t after, std::int64_t upto) const {
  auto [from, to] = span(profile, after, upto, nullptr);
  return {from, to};
}

std::vector<Entry> RecentEvents::newest(std::int64_t profile, std::int64_t after, std::int64_t upto, Entry before,
                                        size_t limit) const {
  bool ordered = true;
  auto [from, to] = span(profile, after, upto, &ordered);
  std::vector<Entry> out;
  if (ordered) {
    // (ts, seq) never goes down along the span: the page is the run just before the cursor.
    auto end = std::lower_bound(from, to, before, by_time);
    auto begin = end - std::min(static_cast<std::ptrdiff_t>(limit), end - from);
    out.assign(std::make_reverse_iterator(end), std::make_reverse_iterator(begin));
    return out;
  }
  std::copy_if(from, to, std::back_inserter(out), [&](const Entry& e) { return by_time(e, before); });
  auto keep = std::min(limit, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(keep), out.end(),
                    [](const Entry& a, const Entry& b) { return by_time(b, a); });
  out.resize(keep);
  return out;
}

std::optional<std::pair<std::int64_t, std::int64_t>> RecentEvents::time_span(std::int64_t profile,
                                                                             std::int64_t after,
                                                                             std::int64_t upto) const {
  bool ordered = true;
  auto [from, to] = span(profile, after, upto, &ordered);
  if (from == to) return std::nullopt;
  if (ordered) return std::pair(from->ts, std::prev(to)->ts);
  auto [lo, hi] = std::minmax_element(from, to, [](const Entry& a, const Entry& b) { return a.ts < b.ts; });
  return std::pair(lo->ts, hi->ts);
}

std::vector<std::int64_t> RecentEvents::profiles(std::int64_t after, std::int64_t upto) const {
  std::vector<std::int64_t> out;
  for (const auto& [profile, events] : by_profile_) {
    const auto& v = events.entries;
    auto it = std::upper_bound(v.begin(), v.end(), Entry{0, after}, by_seq);
    if (it != v.end() && it->seq <= upto) out.push_back(profile);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void RecentEvents::move(std::int64_t from, std::int64_t into) {
  auto found = by_profile_.find(from);
  if (found == by_profile_.end() || from == into) return;
  std::vector<Entry> moved = std::move(found->second.entries);
  by_profile_.erase(found);
  size_ -= moved.size();
  for (const Entry& e : moved) add(into, e);
}

void RecentEvents::erase(std::int64_t profile) {
  auto found = by_profile_.find(profile);
  if (found == by_profile_.end()) return;
  size_ -= found->second.entries.size();
  by_profile_.erase(found);
}

void RecentEvents::drop_through(std::int64_t seq) {
  if (seq <= floor_) return;
  for (auto it = by_profile_.begin(); it != by_profile_.end();) {
    auto& v = it->second.entries;
    auto keep = std::upper_bound(v.begin(), v.end(), Entry{0, seq}, by_seq);
    size_ -= static_cast<size_t>(keep - v.begin());
    v.erase(v.begin(), keep);
    if (v.empty()) {
      it = by_profile_.erase(it);
    } else {
      v.shrink_to_fit();
      it->second.in_time_order = in_time_order(v);
      ++it;
    }
  }
  floor_ = seq;
  through_ = std::max(through_, seq);
}

}  // namespace tp::storage
