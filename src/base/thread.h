// Per-thread settings for the long-running threads (docs/threading.md).
#pragma once

#include <string_view>

namespace tp {

// Names the calling thread (at most 15 characters show) for `top -H`, `ps -L` and debuggers.
void name_this_thread(std::string_view name);

// Makes the calling thread background work: a lower CPU priority (nice +10), so that the
// threads that answer requests run first when they compete, while background work still gets
// every idle moment. Its I/O priority stays: a checkpoint held back on the disk would hold up
// the fsyncs waiting behind it. Failing to change the priority is harmless, so it is ignored.
void lower_this_thread_priority();

}  // namespace tp
