// How a write transaction reaches the disk; shared by the event store and the journey store.
#pragma once

namespace tp::storage {

// kDurable: commit() returns once the transaction is on disk (fsync). kDeferred: commit()
// returns once it is visible to readers and safe from a process crash; it reaches the disk with
// the next durable commit (which syncs every commit before it) or checkpoint, so a power cut may
// undo it (and every later commit) as a whole. Only for writes that can be redone from durable
// input: the intake log's applies, the journey runner's steps.
enum class Sync { kDurable, kDeferred };

}  // namespace tp::storage
