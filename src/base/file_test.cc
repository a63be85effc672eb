#include "base/file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace tp {
namespace {

// cachestat(2) (Linux 6.5): how many of a file range's cached pages are dirty or under write-back.
// glibc has no wrapper yet.
struct CacheRange {
  std::uint64_t offset, length;
};
struct CacheStat {
  std::uint64_t cached, dirty, writeback, evicted, recently_evicted;
};
constexpr long kCachestat = 451;

bool cache_stat(int fd, std::uint64_t offset, std::uint64_t length, CacheStat& out) {
  CacheRange range{offset, length};
  return ::syscall(kCachestat, fd, &range, &out, 0) == 0;
}

TEST(WriteBackInSteps, LeavesNothingOfTheRangeWaiting) {
  const auto dir = std::filesystem::temp_directory_path();
  struct statfs fs {};
  ASSERT_EQ(::statfs(dir.c_str(), &fs), 0);
  if (fs.f_type == TMPFS_MAGIC) GTEST_SKIP() << dir << " is tmpfs: nothing to write back";
  const std::string path = (dir / ("tp-write-back-" + std::to_string(::getpid()))).string();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  constexpr std::int64_t kMiB = 1 << 20;
  const std::string data(4 * kMiB, 'x');
  ASSERT_EQ(::pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  CacheStat before{};
  if (!cache_stat(fd, 0, 4 * kMiB, before)) GTEST_SKIP() << "no cachestat(2) in this kernel";
  ASSERT_GT(before.dirty, 0u) << "the kernel wrote the file back by itself";

  write_back_in_steps(fd, kMiB, 3 * kMiB, 256 << 10);
  // (Pages around it may go too: a large folio is written back whole.)
  CacheStat inside{};
  ASSERT_TRUE(cache_stat(fd, kMiB, 2 * kMiB, inside));
  EXPECT_EQ(inside.dirty + inside.writeback, 0u) << "pages of the range are still waiting to be written";
  ::close(fd);
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace tp
