// IntakeLog: the append-only log that makes an ingested request durable before it is applied.
//
// A request is acknowledged once its entry is in this log and fsynced; the profile writer then
// applies entries to the store in the background and records how far it got (the "applied
// position") in the store, in the same transaction. After a crash the entries past that position
// are applied again; the store's messageId dedupe makes that idempotent. Layout and recovery are
// written down in docs/storage.md ("Intake log").
//
// On disk: `<data>/intake/<first position, 20 digits>.log` segments of up to `segment_bytes`.
// A position is a byte offset in the whole log (across segments). An entry is
//   u32 payload length | u32 CRC-32 of the payload | payload
// in little-endian; a segment is preallocated with zeros ahead of its entries (a zero length ends
// it). A torn or corrupt tail (a crash in the middle of a write that was therefore never
// acknowledged) is zeroed when the log is opened.
//
// The next segment is prepared ahead, as `spare.tmp`: a segment that has been applied is renamed
// to it rather than deleted, and a background thread overwrites it with zeros a step at a time
// (base/file.h), so that neither zeroing nor the disk's discard of freed blocks happens while an
// append waits (docs/storage.md, "Intake log", Spare segment).
//
// Threading: append() belongs to one thread (the writer's appender); read() and
// drop_applied() to one other thread (the applier); the spare's own thread zeroes it.
// durable_end() may be read from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/status.h"

namespace tp::storage {

class IntakeLog {
 public:
  struct Entry {
    std::uint64_t end = 0;  // the position just after this entry
    std::string payload;
  };

  static constexpr std::uint64_t kDefaultSegmentBytes = 64ull << 20;
  static constexpr std::uint64_t kEntryHeaderBytes = 8;  // an entry takes this + its payload

  // Opens (or creates) the log in `dir`, cutting off a torn tail.
  static Result<std::unique_ptr<IntakeLog>> open(const std::string& dir,
                                                std::uint64_t segment_bytes = kDefaultSegmentBytes);
  ~IntakeLog();

  // Lines the log up with the store's applied position at start-up. An empty log (e.g. a new
  // intake directory next to an existing database) continues at `applied`; a log that ends
  // before `applied` while holding entries is an error (it does not belong to this store).
  Status resume_at(std::uint64_t applied);

  // Appends the entries and fsyncs them; returns the end position of each.
  Result<std::vector<std::uint64_t>> append(const std::vector<std::string_view>& payloads);

  // Entries starting at `from` (a position returned by append or an entry's end), up to about
  // `max_bytes` of payload (at least one entry when there is one), never past durable_end().
  // One caller at a time (the applier): the entries are read through one reused buffer.
  Result<std::vector<Entry>> read(std::uint64_t from, size_t max_bytes);

  // Deletes the segments that hold only entries before `applied`.
  Status drop_applied(std::uint64_t applied);
  // Whether drop_applied(applied) would delete a segment.
  bool can_drop(std::uint64_t applied) const;

  // The end of the last entry that is fsynced.
  std::uint64_t durable_end() const { return durable_end_.load(std::memory_order_acquire); }
  // The position of the first entry still on disk.
  std::uint64_t start() const;

  // Waits until a spare segment is ready for the next segment to start on (tests).
  void wait_for_spare();

 private:
  struct Segment {
    std::uint64_t first = 0;  // position of the segment's first byte
    int fd = -1;
  };

  // The spare segment: none; a file whose old entries still need zeros (an applied segment, or
  // whatever a stop left); being zeroed; ready to become the next segment.
  enum class Spare { kNone, kDirty, kZeroing, kReady };

  IntakeLog(std::string dir, std::uint64_t segment_bytes);
  Status recover();
  Status start_segment(std::uint64_t first);
  // Closes and deletes segments already taken out of segments_, keeping one as the spare.
  Status remove_segments(const std::vector<Segment>& segments);
  void prepare_spares();  // the spare's thread
  Status zero_spare(int fd, std::uint64_t bytes);
  static Status zero(int fd, std::uint64_t from, std::uint64_t to, const std::string& path);
  std::string segment_path(std::uint64_t first) const;

  const std::string dir_;
  const std::uint64_t segment_bytes_;
  mutable std::mutex mu_;             // guards segments_ (the appender adds, the applier drops)
  std::map<std::uint64_t, Segment> segments_;  // by first position
  std::uint64_t end_ = 0;             // appender's write position
  std::uint64_t allocated_ = 0;       // bytes of the last segment written (entries or zeros)
  std::atomic<std::uint64_t> durable_end_{0};
  std::string buffer_;
  std::string read_buffer_;  // read()'s, reused

  const std::string spare_path_;
  const std::uint64_t spare_bytes_;  // zeros a spare holds: a segment and the preallocation
  std::mutex spare_mu_;              // guards the spare's state, fd and file name
  std::condition_variable spare_cv_;
  Spare spare_ = Spare::kNone;
  int spare_fd_ = -1;
  bool create_spare_ = true;  // no spare has been created since open(): make one
  std::atomic<bool> stopping_{false};
  std::thread spare_thread_;  // last: started once the rest is set up
};

}  // namespace tp::storage
