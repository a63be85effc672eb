// Realistic Segment-spec messages for load: what analytics-node sends for an online shop.
//
// Every message has a unique messageId (prefix + counter, so distinct factories never collide),
// a userId from a fixed population ("user-0001234"), and a few properties and context fields:
// a track event is ~330 bytes of JSON, the size the targets in bench/README.md assume.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/clock.h"

namespace tp::bench {

struct EventSpec {
  enum class Kind { kTrack, kIdentify };
  Kind kind = Kind::kTrack;
  int user = 0;
  Timestamp time{};
};

class EventFactory {
 public:
  // `id_prefix` must be unique among the factories writing to one store.
  EventFactory(std::string id_prefix, int users, std::uint64_t seed);

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
  std::uint64_t next_random();

  std::string prefix_;
  int users_;
  std::uint64_t state_;
  std::uint64_t counter_ = 0;
};

}  // namespace tp::bench
