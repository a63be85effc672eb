// Parsing and validating Segment-spec messages (https://segment.com/docs/connections/spec/).
//
// Errors are Status values with code kInvalidArgument (400) or kTooLarge (413) and a message of
// the form "<field>: <reason>", e.g. "batch[3].userId: expected a string, got an object".
// `error_field()` recovers the field. Invalid JSON names the byte offset.
//
// Thread-safety: the functions are thread-safe (each thread keeps its own parser buffers).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "ingest/message.h"

namespace tp::ingest {

struct Limits {
  size_t max_message_bytes = 32 * 1024;  // Segment: 32 KB per message
  size_t max_batch_bytes = 500 * 1024;   // Segment: 500 KB per batch request
};

struct Parsed {
  std::vector<Message> messages;
  std::string write_key;  // "writeKey" from the body, when the client sent it there
};

// The body of /v1/identify, /v1/track, ...: one message whose type the endpoint gives
// (a "type" in the body, when present, must agree).
Result<Parsed> parse_single(std::string_view body, MessageType type, Timestamp received_at,
                            const Limits& limits = {});

// The body of /v1/batch: {"batch":[...], "sentAt", "context", "integrations"}. One bad message
// rejects the whole batch, naming its index.
Result<Parsed> parse_batch(std::string_view body, Timestamp received_at, const Limits& limits = {});

// One message that carries its own "type" (a line of a JSONL export).
Result<Message> parse_typed(std::string_view json, Timestamp received_at, const Limits& limits = {});

// The field named by a parse error ("" when none).
std::string error_field(const Status& s);

// The byte offset (0-based) of a JSON syntax error in `text`; `text` must be invalid JSON.
size_t json_error_offset(std::string_view text);

}  // namespace tp::ingest
