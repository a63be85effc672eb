// A compact binary form of a validated Message, for the intake log (storage/intake_log.h): what
// was acknowledged is written in this form and read back, field for field, when it is applied.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "ingest/message.h"

namespace tp::ingest {

// Appends `m` to `out`.
void encode_message(const Message& m, std::string& out);
// Reads one message from the front of `in` and advances `in` past it.
Result<Message> decode_message(std::string_view& in);
// The same into an existing message, every field overwritten, reusing its strings' memory.
Status decode_message_into(std::string_view& in, Message& m);

}  // namespace tp::ingest
