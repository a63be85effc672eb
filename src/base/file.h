// Reading a whole file, with an error that names the path; writing a file's pages back a step
// at a time.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace tp {

Result<std::string> read_file(const std::string& path);

// Writes [from, to) of `fd`'s file back to the disk in steps of `step` bytes, waiting for each
// before starting the next (`sync_file_range`); clean pages cost nothing. No cache flush: an
// fsync afterwards still makes it durable, with little left to write. A file written this way
// reaches the disk in small pieces instead of in one burst at its fsync, which every other
// fsync on the disk would wait behind (docs/storage.md, "Checkpoints" and "Intake log").
// Errors are ignored: the fsync that follows reports them.
void write_back_in_steps(int fd, std::int64_t from, std::int64_t to, std::int64_t step);

}  // namespace tp
