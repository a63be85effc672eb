// A Segment-spec message after validation: what ingestion hands downstream.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"

namespace tp::ingest {

enum class MessageType { kIdentify, kTrack, kPage, kScreen, kGroup, kAlias };

std::string_view type_name(MessageType t);

// A top-level trait: its name and its value as minified JSON text.
struct Trait {
  std::string name;
  std::string json;
};

struct Message {
  MessageType type = MessageType::kTrack;
  std::string message_id;
  std::string user_id;       // empty when absent
  std::string anonymous_id;  // empty when absent
  std::string event;         // track: event name; page/screen: name
  std::string group_id;      // group
  std::string previous_id;   // alias
  Timestamp timestamp{};     // event time after clock-skew correction
  Timestamp received_at{};
  std::vector<Trait> traits;  // identify: the person's traits; group: the group's traits
  std::vector<std::pair<std::string, bool>> consent;  // context.consent.categoryPreferences
  // The normalised message as minified JSON: what the customer card's timeline shows.
  std::string body;
};

}  // namespace tp::ingest
