// Bounce and complaint reports (from an ESP webhook or a DSN/ARF parser) turned into Segment
// messages for the person's profile.
//
// Input JSON:  {"email": "asa@example.se", "type": "hard"|"soft"|"complaint",
//               "messageKey": "<idempotency key of the delivery>", "reason": "550 5.1.1 …"}
// `email` and `type` are required; `messageKey` and `reason` are optional strings; other fields
// are ignored. The caller resolves the userId (by the message key or the address).
//
// Output, in order:
//   track "Email Bounced"    {messageKey, type: "hard"|"soft", email, reason}   (hard and soft)
//   track "Email Complained" {messageKey, email, reason}                         (complaint)
//   identify {email_status: "bounced"}     after a hard bounce
//   identify {email_status: "complained"}  after a complaint
// The journey engine's address check is to treat an email address as unusable while the trait
// email_status is "bounced" or "complained" (whoever changes the person's `email` trait should
// clear email_status). Soft bounces are recorded but change nothing.
// messageIds are derived from (userId, email, type, messageKey, reason), so a provider that
// delivers the same report twice is counted once.
//
// Pure functions of their arguments (and the clock); thread-safe.
// Errors: kInvalidArgument naming the field ("type: 'bouncy' is not one of hard, soft,
// complaint", "email: required", "userId: required").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace tp::tracking {

enum class BounceType { kHard, kSoft, kComplaint };

struct BounceReport {
  std::string email;
  BounceType type = BounceType::kHard;
  std::string message_key;  // may be empty
  std::string reason;       // may be empty; cut to kMaxBounceReasonBytes (at a character boundary)
};

inline constexpr size_t kMaxBounceReasonBytes = 1000;

Result<BounceReport> parse_bounce_report(std::string_view json);

// The messages for a parsed report.
Result<std::vector<std::string>> bounce_messages(const BounceReport& report, std::string_view user_id, Timestamp now);
// Parse + messages, timestamped with clock.now().
Result<std::vector<std::string>> bounce_messages(std::string_view json, std::string_view user_id, const Clock& clock);

}  // namespace tp::tracking
