#include "base/file.h"

#include <fcntl.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace tp {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid_argument("cannot read " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_back_in_steps(int fd, std::int64_t from, std::int64_t to, std::int64_t step) {
  constexpr unsigned kWaitAndWrite = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
  for (std::int64_t at = from; at < to; at += step) (void)::sync_file_range(fd, at, std::min(step, to - at), kWaitAndWrite);
}

}  // namespace tp
