// The `delivery:` section of touchpoint.yaml: how the outbox worker paces and retries.
//
//   delivery:
//     workers: 4                       # messages sent at once
//     max_attempts: 8                  # temporary failures before the dead-letter list
//     backoff: {first: 30s, max: 6h}   # exponential, with jitter
//     breaker: {failures: 5, cooldown: 30s}   # per channel
//     rate_limit: {email: 50, sms: 5, webhook: 20}   # messages per second per channel
//
// Every key is optional; a missing section keeps the defaults of delivery::Options.
// Reference: docs/delivery.md. Errors: kInvalidArgument, one "file:line:col: delivery.…: …"
// line per problem.
#pragma once

#include <string>

#include "base/status.h"
#include "delivery/deliverer.h"

namespace tp::delivery {

Result<Options> parse_delivery_config(const std::string& file, const std::string& text);
Result<Options> load_delivery_config(const std::string& path);

}  // namespace tp::delivery
