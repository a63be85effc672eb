// Realistic Segment-spec messages for load: what analytics-node sends for an online shop.
//
// Every message has a unique messageId shaped like the random UUIDs the Segment libraries send
// (random ids matter: they land all over the messageId index, as in production), a userId from a
// fixed population ("user-0001234"), and a few properties and context fields: a track event is
// ~380 bytes of JSON.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/clock.h"

namespace tp::bench {

// How messageIds look. Real SDKs send random UUIDs; sequential ids ("<stream>-<counter>")
// append to the messageId index instead of landing all over it, which shows what the index costs.
enum class IdStyle { kUuid, kSequential };

// Appends a messageId shaped like a random UUID (8-4-4-4-12 hex digits): a bijection of `n`
// (scattered, unique for each n) in the first half, `stream` in the second.
void append_uuid_like(std::string& out, std::uint64_t n, std::uint64_t stream);

struct EventSpec {
  enum class Kind { kTrack, kIdentify };
  Kind kind = Kind::kTrack;
  int user = 0;
  Timestamp time{};
};

class EventFactory {
 public:
  // `stream` must be unique among the factories writing to one store: it keeps their
  // messageIds apart.
  EventFactory(std::string_view stream, int users, IdStyle ids = IdStyle::kUuid);

  static std::string user_id(int user);
  int random_user();

  // A /v1/batch body: {"batch":[...],"sentAt":...}.
  std::string batch_body(std::span<const EventSpec> events, Timestamp sent_at);
  // A /v1/batch body of `n` track events of random users, happening at `now`.
  std::string random_batch_body(int n, Timestamp now);
  // A /v1/track body: one track event of a random user.
  std::string random_track_body(Timestamp now);

  // Appends one message object.
  void append(std::string& out, const EventSpec& e);

 private:
  void append_track(std::string& out, const EventSpec& e);
  void append_identify(std::string& out, const EventSpec& e);
  void append_message_id(std::string& out);
  std::uint64_t next_random();

  int users_;
  IdStyle ids_;
  std::string stream_name_;
  std::uint64_t stream_;  // a hash of the stream name
  std::uint64_t state_;
  std::uint64_t counter_ = 0;
};

}  // namespace tp::bench
