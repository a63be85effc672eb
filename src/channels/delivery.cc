#include "channels/delivery.h"

namespace tp::channels {

const char* to_string(DeliveryOutcome outcome) {
  switch (outcome) {
    case DeliveryOutcome::kDelivered:
      return "delivered";
    case DeliveryOutcome::kTemporary:
      return "temporary";
    case DeliveryOutcome::kPermanent:
      return "permanent";
  }
  return "unknown";
}

}  // namespace tp::channels
