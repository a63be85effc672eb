// The classified outcome of one delivery attempt, shared by every channel adapter.
//
// Adapters never throw and never retry by themselves: they make one attempt and say what
// happened, so that the outbox worker can decide (retry with back-off, dead-letter, circuit
// breaker). `reason` is meant for a person (operator dashboards, dead-letter records); it never
// contains message content, only codes and the provider's or server's own words.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "base/clock.h"

namespace tp::channels {

enum class DeliveryOutcome {
  kDelivered,  // the provider accepted the message; provider_id names it there
  kTemporary,  // not delivered; the same attempt may succeed later (retry)
  kPermanent,  // not delivered; retrying the same message will fail again (dead-letter)
};

struct DeliveryResult {
  DeliveryOutcome outcome = DeliveryOutcome::kTemporary;
  std::string provider_id;            // kDelivered: SMTP Message-ID / SMS sid / webhook-id
  std::string reason;                 // human-readable: why not delivered, or what the provider answered
  int code = 0;                       // SMTP reply code or HTTP status when there was one; 0 otherwise
  std::optional<Millis> retry_after;  // kTemporary: the provider asked to wait this long

  bool delivered() const { return outcome == DeliveryOutcome::kDelivered; }
  bool temporary() const { return outcome == DeliveryOutcome::kTemporary; }
  bool permanent() const { return outcome == DeliveryOutcome::kPermanent; }

  static DeliveryResult success(std::string provider_id, std::string reason, int code = 0) {
    return {DeliveryOutcome::kDelivered, std::move(provider_id), std::move(reason), code, {}};
  }
  static DeliveryResult temporary_error(std::string reason, int code = 0, std::optional<Millis> retry_after = {}) {
    return {DeliveryOutcome::kTemporary, {}, std::move(reason), code, retry_after};
  }
  static DeliveryResult permanent_error(std::string reason, int code = 0) {
    return {DeliveryOutcome::kPermanent, {}, std::move(reason), code, {}};
  }
};

// "delivered", "temporary" or "permanent".
const char* to_string(DeliveryOutcome outcome);

}  // namespace tp::channels
