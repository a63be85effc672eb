// The journey endpoints of the management API (docs/http-api.md): the journey list, per-step
// statistics, the enter call, and the salespeople's task list.
#pragma once

#include <string_view>

#include "base/clock.h"
#include "http/server.h"
#include "journeys/runner.h"
#include "profiles/writer.h"
#include "storage/journey_store.h"

namespace tp::http {

struct JourneyApiDeps {
  journeys::Runner* runner = nullptr;        // null: serve runs without --journeys
  storage::JourneyStore* store = nullptr;
};

// Answers /api/v1/journeys… and /api/v1/tasks…; false when `path` is neither (nothing answered).
bool handle_journey_api(const JourneyApiDeps& d, profiles::ProfileWriter& writer, const Clock& clock,
                        Request& request, std::string_view path, std::string_view query, const Respond& respond);

}  // namespace tp::http
