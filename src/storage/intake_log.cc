#include "storage/intake_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/file.h"
#include "base/thread.h"

namespace tp::storage {
namespace {

namespace fs = std::filesystem;

constexpr size_t kHeader = IntakeLog::kEntryHeaderBytes;
// An entry larger than this is corruption, not data (a batch is at most 500 KB of JSON).
constexpr std::uint32_t kMaxPayload = 64u << 20;
// Zeros written ahead of the last entry (at most a segment's size).
constexpr std::uint64_t kPreallocateBytes = 16ull << 20;
// Zeros the spare's thread writes, and writes back, at a time.
constexpr std::int64_t kSpareStep = 256 << 10;

Status io_error(std::string_view what, const std::string& path) {
  return internal_error(fmt::format("intake log: {} {}: {}", what, path, std::strerror(errno)));
}

void put_u32(std::string& out, std::uint32_t v) {
  char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16), static_cast<char>(v >> 24)};
  out.append(b, 4);
}

std::uint32_t get_u32(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
}

std::uint32_t crc(std::string_view s) {
  return static_cast<std::uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

// Reads up to n bytes at offset into buf (grown when short, never shrunk or cleared, so that a
// reused buffer costs no allocation and no zero fill); the bytes read are its first ones.
Result<std::string_view> read_into(int fd, std::uint64_t offset, size_t n, const std::string& path, std::string& buf) {
  if (buf.size() < n) buf.resize(n);
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, buf.data() + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return io_error("cannot read", path);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return std::string_view(buf.data(), got);
}

Result<std::string> read_at(int fd, std::uint64_t offset, size_t n, const std::string& path) {
  std::string out;
  TP_ASSIGN(std::string_view got, read_into(fd, offset, n, path, out));
  out.resize(got.size());
  return out;
}

Status sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return io_error("cannot open", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return io_error("cannot fsync", dir);
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<IntakeLog>> IntakeLog::open(const std::string& dir, std::uint64_t segment_bytes) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return internal_error(fmt::format("intake log: cannot create {}: {}", dir, ec.message()));
  auto log = std::unique_ptr<IntakeLog>(new IntakeLog(dir, segment_bytes));
  TP_TRY(log->recover());
  // A spare that a stop left behind is zeroed again in place: rewriting its blocks costs less
  // than freeing them and allocating others.
  int spare = ::open(log->spare_path_.c_str(), O_RDWR | O_CLOEXEC);
  if (spare >= 0) {
    log->spare_fd_ = spare;
    log->spare_ = Spare::kDirty;
    log->create_spare_ = false;
  }
  log->spare_thread_ = std::thread([l = log.get()] {
    name_this_thread("tp-intake-spare");
    lower_this_thread_priority();
    l->prepare_spares();
  });
  return log;
}

IntakeLog::IntakeLog(std::string dir, std::uint64_t segment_bytes)
    : dir_(std::move(dir)),
      segment_bytes_(segment_bytes),
      spare_path_(dir_ + "/spare.tmp"),
      spare_bytes_(segment_bytes + std::min(kPreallocateBytes, segment_bytes)) {}

IntakeLog::~IntakeLog() {
  {
    std::lock_guard lock(spare_mu_);
    stopping_ = true;
  }
  spare_cv_.notify_all();
  if (spare_thread_.joinable()) spare_thread_.join();
  if (spare_fd_ >= 0) ::close(spare_fd_);
  for (auto& [first, s] : segments_) ::close(s.fd);
}

void IntakeLog::prepare_spares() {
  std::unique_lock lock(spare_mu_);
  while (true) {
    spare_cv_.wait(lock, [&] {
      return stopping_ || spare_ == Spare::kDirty || (spare_ == Spare::kNone && create_spare_);
    });
    if (stopping_) return;
    int fd = spare_fd_;
    if (spare_ == Spare::kNone) {
      // The first spare since open(); later ones are applied segments (remove_segments).
      create_spare_ = false;
      fd = ::open(spare_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0) continue;  // no spare: the appender writes zeros itself, as it goes
    }
    spare_ = Spare::kZeroing;
    spare_fd_ = -1;
    lock.unlock();
    Status zeroed = zero_spare(fd, spare_bytes_);
    lock.lock();
    if (zeroed.is_ok()) {
      spare_fd_ = fd;
      spare_ = Spare::kReady;
      spare_cv_.notify_all();
      continue;
    }
    ::close(fd);
    spare_ = Spare::kNone;
    // Stopping: the next open() zeroes the file again. A failed write: no spare for now.
    if (!stopping_) (void)::unlink(spare_path_.c_str());
  }
}

// Overwrites [0, bytes) with zeros, writing each step back before the next, and syncs it.
Status IntakeLog::zero_spare(int fd, std::uint64_t bytes) {
  static const std::string kZeros(kSpareStep, '\0');
  for (std::uint64_t at = 0; at < bytes;) {
    if (stopping_) return unavailable("intake log: stopping");
    size_t n = static_cast<size_t>(std::min<std::uint64_t>(kZeros.size(), bytes - at));
    ssize_t r = ::pwrite(fd, kZeros.data(), n, static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return io_error("cannot write", spare_path_);
    write_back_in_steps(fd, static_cast<std::int64_t>(at), static_cast<std::int64_t>(at) + r, kSpareStep);
    at += static_cast<std::uint64_t>(r);
  }
  if (::fdatasync(fd) != 0) return io_error("cannot fsync", spare_path_);
  return Status::ok();
}

void IntakeLog::wait_for_spare() {
  std::unique_lock lock(spare_mu_);
  spare_cv_.wait_for(lock, std::chrono::seconds(30), [&] { return spare_ == Spare::kReady; });
}

std::string IntakeLog::segment_path(std::uint64_t first) const { return fmt::format("{}/{:020}.log", dir_, first); }

std::uint64_t IntakeLog::start() const {
  std::lock_guard lock(mu_);
  return segments_.empty() ? end_ : segments_.begin()->first;
}

// Scans every segment, checks each entry's length and CRC, and ends the last segment after its
// last whole entry. Segments are preallocated with zeros, so a zero length is the clean end of
// the written part; anything else that does not check out is damage. In the last segment that
// is a write torn by a crash (never acknowledged), and everything after the last whole entry is
// zeroed; in an earlier segment it stops the start-up.
Status IntakeLog::recover() {
  std::vector<std::uint64_t> firsts;
  for (const auto& f : fs::directory_iterator(dir_)) {
    std::string name = f.path().filename().string();
    if (name.size() != 24 || name.substr(20) != ".log") continue;
    try {
      firsts.push_back(std::stoull(name.substr(0, 20)));
    } catch (const std::exception&) {
      continue;
    }
  }
  std::sort(firsts.begin(), firsts.end());
  std::uint64_t expected = firsts.empty() ? 0 : firsts.front();
  for (size_t i = 0; i < firsts.size(); ++i) {
    std::uint64_t first = firsts[i];
    std::string path = segment_path(first);
    if (first != expected)
      return internal_error(fmt::format("intake log: {} starts at {}, but the segment before it ends at {}", path,
                                        first, expected));
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return io_error("cannot open", path);
    segments_[first] = Segment{first, fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return io_error("cannot stat", path);
    auto size = static_cast<std::uint64_t>(st.st_size);
    std::uint64_t offset = 0;
    bool clean_end = true;
    while (offset + kHeader <= size) {
      TP_ASSIGN(std::string header, read_at(fd, offset, kHeader, path));
      std::uint32_t length = get_u32(header.data());
      if (length == 0) break;  // the preallocated rest
      clean_end = false;
      if (length > kMaxPayload || offset + kHeader + length > size) break;
      TP_ASSIGN(std::string payload, read_at(fd, offset + kHeader, length, path));
      if (crc(payload) != get_u32(header.data() + 4)) break;
      offset += kHeader + length;
      clean_end = true;
    }
    bool last = i + 1 == firsts.size();
    if (!clean_end && !last)
      return internal_error(fmt::format("intake log: {} is damaged at byte {} (not its tail)", path, offset));
    if (last) {
      // Also after a clean end: the disk may have kept a later part of a torn write.
      allocated_ = size;
      if (offset < size) TP_TRY(zero(fd, offset, size, path));
    }
    expected = first + offset;
  }
  end_ = expected;
  durable_end_.store(end_, std::memory_order_release);
  if (segments_.empty()) TP_TRY(start_segment(end_));
  return Status::ok();
}

// Writes zeros over [from, to) of the segment and syncs them: the preallocated space, and what a
// torn write left behind the last whole entry (so that no stale bytes can ever follow a later
// entry).
Status IntakeLog::zero(int fd, std::uint64_t from, std::uint64_t to, const std::string& path) {
  static const std::string kZeros(1 << 20, '\0');
  for (std::uint64_t at = from; at < to;) {
    size_t n = static_cast<size_t>(std::min<std::uint64_t>(kZeros.size(), to - at));
    ssize_t r = ::pwrite(fd, kZeros.data(), n, static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return io_error("cannot write", path);
    at += static_cast<std::uint64_t>(r);
  }
  if (::fdatasync(fd) != 0) return io_error("cannot fsync", path);
  return Status::ok();
}

Status IntakeLog::start_segment(std::uint64_t first) {
  std::string path = segment_path(first);
  int fd = -1;
  std::uint64_t allocated = 0;
  {
    std::lock_guard lock(spare_mu_);
    if (spare_ == Spare::kReady && ::rename(spare_path_.c_str(), path.c_str()) == 0) {
      fd = spare_fd_;
      spare_fd_ = -1;
      spare_ = Spare::kNone;
      allocated = spare_bytes_;
    }
  }
  if (fd < 0) fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("cannot create", path);
  TP_TRY(sync_dir(dir_));
  std::lock_guard lock(mu_);
  segments_[first] = Segment{first, fd};
  allocated_ = allocated;
  return Status::ok();
}

Status IntakeLog::resume_at(std::uint64_t applied) {
  if (applied <= end_) {
    if (applied < start())
      return internal_error(fmt::format(
          "intake log: {} starts at position {}, but the store has applied it only up to {}: entries are missing",
          dir_, start(), applied));
    return Status::ok();
  }
  if (start() != end_)
    return internal_error(fmt::format("intake log: {} ends at position {}, but the store has applied it up to {}: "
                                      "this log belongs to another data directory",
                                      dir_, end_, applied));
  std::vector<Segment> empty;
  {
    std::lock_guard lock(mu_);
    for (auto& [first, s] : segments_) empty.push_back(s);
    segments_.clear();
  }
  TP_TRY(remove_segments(empty));
  end_ = applied;
  durable_end_.store(end_, std::memory_order_release);
  return start_segment(end_);
}

Result<std::vector<std::uint64_t>> IntakeLog::append(const std::vector<std::string_view>& payloads) {
  Segment current;
  {
    std::lock_guard lock(mu_);
    current = segments_.rbegin()->second;
  }
  if (end_ - current.first >= segment_bytes_) {
    // The finished segment is complete and fsynced; the next entries go to a new one.
    TP_TRY(start_segment(end_));
    std::lock_guard lock(mu_);
    current = segments_.rbegin()->second;
  }
  buffer_.clear();
  std::vector<std::uint64_t> ends;
  ends.reserve(payloads.size());
  std::uint64_t pos = end_;
  for (std::string_view p : payloads) {
    if (p.size() > kMaxPayload) return invalid_argument(fmt::format("intake log: an entry of {} bytes is too large", p.size()));
    put_u32(buffer_, static_cast<std::uint32_t>(p.size()));
    put_u32(buffer_, crc(p));
    buffer_.append(p);
    pos += kHeader + p.size();
    ends.push_back(pos);
  }
  std::string path = segment_path(current.first);
  std::uint64_t write_end = end_ - current.first + buffer_.size();
  if (write_end > allocated_) {
    // Zeros ahead of the writes: an fdatasync that does not change the file's size needs no
    // journal commit, so it does not wait for other files' writeback (the store's WAL and
    // checkpoints on the same disk).
    std::uint64_t target = write_end + std::min(kPreallocateBytes, segment_bytes_);
    TP_TRY(zero(current.fd, allocated_, target, path));
    allocated_ = target;
  }
  size_t written = 0;
  while (written < buffer_.size()) {
    ssize_t r = ::pwrite(current.fd, buffer_.data() + written, buffer_.size() - written,
                         static_cast<off_t>(end_ - current.first + written));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      // Zero what may have reached the file so the next append starts on a clean end.
      (void)zero(current.fd, end_ - current.first, end_ - current.first + written, path);
      return io_error("cannot write", path);
    }
    written += static_cast<size_t>(r);
  }
  if (::fdatasync(current.fd) != 0) {
    (void)zero(current.fd, end_ - current.first, write_end, path);
    return io_error("cannot fsync", path);
  }
  end_ = pos;
  durable_end_.store(end_, std::memory_order_release);
  return ends;
}

Result<std::vector<IntakeLog::Entry>> IntakeLog::read(std::uint64_t from, size_t max_bytes) {
  std::vector<Entry> out;
  size_t bytes = 0;
  const std::uint64_t durable = durable_end();
  while (from < durable && (out.empty() || bytes < max_bytes)) {
    Segment seg;
    std::uint64_t seg_end;
    {
      std::lock_guard lock(mu_);
      auto it = segments_.upper_bound(from);
      if (it == segments_.begin())
        return internal_error(fmt::format("intake log: position {} was already dropped", from));
      auto next = it;
      seg = (--it)->second;
      seg_end = next == segments_.end() ? durable : std::min(durable, next->first);
    }
    if (from >= seg_end) return internal_error(fmt::format("intake log: no entry at position {}", from));
    // Read the rest of the segment in one go, up to the byte budget, and split it into entries.
    size_t budget = bytes < max_bytes ? max_bytes - bytes : kHeader;
    size_t want = static_cast<size_t>(std::min<std::uint64_t>(seg_end - from, std::max(budget, kHeader)));
    std::string path = segment_path(seg.first);
    TP_ASSIGN(std::string_view chunk, read_into(seg.fd, from - seg.first, want, path, read_buffer_));
    size_t off = 0;
    while (off + kHeader <= chunk.size()) {
      std::uint32_t length = get_u32(chunk.data() + off);
      if (off + kHeader + length > chunk.size()) break;
      std::string_view payload(chunk.data() + off + kHeader, length);
      if (crc(payload) != get_u32(chunk.data() + off + 4))
        return internal_error(fmt::format("intake log: {} is damaged at byte {}", path, from - seg.first + off));
      off += kHeader + length;
      out.push_back(Entry{from + off, std::string(payload)});
    }
    if (off == 0) {
      if (!out.empty()) break;  // the next entry does not fit the budget
      // One entry larger than the budget: read exactly it.
      TP_ASSIGN(std::string header, read_at(seg.fd, from - seg.first, kHeader, path));
      if (header.size() < kHeader) return internal_error(fmt::format("intake log: {} ends inside an entry", path));
      std::uint32_t length = get_u32(header.data());
      TP_ASSIGN(std::string payload, read_at(seg.fd, from - seg.first + kHeader, length, path));
      if (payload.size() != length || crc(payload) != get_u32(header.data() + 4))
        return internal_error(fmt::format("intake log: {} is damaged at byte {}", path, from - seg.first));
      off = kHeader + length;
      out.push_back(Entry{from + off, std::move(payload)});
    }
    bytes += off;
    from += off;
  }
  return out;
}

bool IntakeLog::can_drop(std::uint64_t applied) const {
  std::lock_guard lock(mu_);
  return segments_.size() > 1 && std::next(segments_.begin())->first <= applied;
}

Status IntakeLog::drop_applied(std::uint64_t applied) {
  std::vector<Segment> dropped;
  {
    std::lock_guard lock(mu_);
    // A segment may go when the next one starts at or before `applied`; the last one stays.
    while (segments_.size() > 1) {
      auto first = segments_.begin();
      auto next = std::next(first);
      if (next->first > applied) break;
      dropped.push_back(first->second);
      segments_.erase(first);
    }
  }
  return remove_segments(dropped);
}

Status IntakeLog::remove_segments(const std::vector<Segment>& segments) {
  for (const auto& s : segments) {
    std::string path = segment_path(s.first);
    {
      // The spare's thread zeroes it for a later segment.
      std::lock_guard lock(spare_mu_);
      if (spare_ == Spare::kNone && !stopping_ && ::rename(path.c_str(), spare_path_.c_str()) == 0) {
        spare_fd_ = s.fd;
        spare_ = Spare::kDirty;
        create_spare_ = false;
        spare_cv_.notify_all();
        continue;
      }
    }
    ::close(s.fd);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("cannot delete", path);
  }
  return Status::ok();
}

}  // namespace tp::storage
