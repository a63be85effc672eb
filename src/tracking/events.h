// The Segment messages (JSON text, one object each) that tracking hits become, ready for the
// ingest path: `type`, `userId`, `messageId`, `timestamp`, then `event` + `properties` (track)
// or `traits` (identify), then `context`.
//
// messageIds are derived, never random, so that a repeat is dropped by the profile writer's
// messageId deduplication (docs/tracking.md, "Counting and duplicates"):
//   "trk-" + action + "-" + first 32 hex digits of SHA-256 over the length-prefixed parts.
//
//   Email Opened                     once per message          (message key, user)
//   Email Clicked                    once per message and URL  (message key, user, URL)
//   Unsubscribed (track)             once per message          (message key, user)
//   unsubscribe identify             per request moment        (message key, user, time in ms)
//   preferences identify             per request moment        (message key, user, time, choice)
//
// Pure functions; thread-safe.
#pragma once

#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "tracking/config.h"
#include "tracking/links.h"

namespace tp::tracking {

// Optional request details, added as context.ip / context.userAgent when configured.
struct ClientInfo {
  std::string ip;
  std::string user_agent;
};

std::string derive_message_id(std::string_view action, std::initializer_list<std::string_view> parts);

// track "Email Opened" / "Email Clicked" with properties journey, step (each only when
// non-empty), messageKey, and url (clicks). `client` may be null.
std::string email_opened_message(const LinkClaims& claims, Timestamp now, const ClientInfo* client);
std::string email_clicked_message(const LinkClaims& claims, Timestamp now, const ClientInfo* client);

// track "Unsubscribed" (journey, step, messageKey) and identify {unsubscribed: true} with
// context.consent.categoryPreferences = every purpose false.
std::vector<std::string> unsubscribe_messages(const LinkClaims& claims, const std::vector<Purpose>& purposes,
                                              Timestamp now);

// identify {unsubscribed} with context.consent.categoryPreferences = `choice` (every purpose).
std::string preferences_message(const LinkClaims& claims, const std::map<std::string, bool>& choice, bool unsubscribed,
                                Timestamp now);

}  // namespace tp::tracking
