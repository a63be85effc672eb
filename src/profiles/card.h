// The customer card: one person's identities, traits, consent, owner, organisations, first and
// last seen, and their timeline newest first (GET /api/v1/profiles/{userId}); and the GDPR
// export of everything stored about them. JSON shapes are in docs/http-api.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "storage/store.h"

namespace tp::profiles {

struct CardQuery {
  int limit = 50;  // 1..1000
  std::optional<storage::TimelineCursor> before;
};

// Parses the `before` cursor a previous page returned as `nextCursor`.
Result<storage::TimelineCursor> parse_cursor(std::string_view text);

// kNotFound when no profile has this userId.
Result<std::string> render_card(storage::Reader& reader, std::string_view user_id, const CardQuery& query);
Result<std::string> render_export(storage::Reader& reader, std::string_view user_id);

}  // namespace tp::profiles
