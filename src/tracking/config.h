// The `tracking:` section of touchpoint.yaml: link signing, the company shown on the consent
// pages, and the consent purposes the preference page offers.
//
//   tracking:
//     base_url: https://t.shop.example        # required: where /t/… is served (origin, no path)
//     secret_env: TOUCHPOINT_TRACKING_SECRET  # or secret: …  (≥ 32 bytes); optional, see below
//     previous_secrets_env: [OLD_SECRET]      # or previous_secrets: [...]; still verify
//     company_name: "Zoë's Shop"              # required
//     record_client: false                    # context.ip / context.userAgent on opens and clicks
//     purposes:                               # the preference page's checkboxes, in this order
//       - {id: newsletter, label: Newsletter, description: "News and stories, monthly"}
//
// Without secret / secret_env, `secret` stays empty and the caller derives one from a secret it
// already keeps (derive_tracking_secret in links.h). Keys outside `tracking:` belong to other
// components and are ignored; unknown keys inside it are errors.
// Reference: docs/tracking.md.
//
// Errors: kInvalidArgument, one "file:line:col: tracking.purposes[1].id: …" line per problem.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/config_reader.h"
#include "base/status.h"

namespace tp::tracking {

struct Purpose {
  std::string id;           // [a-z0-9][a-z0-9_-]*, at most 64: the categoryPreferences key
  std::string label;        // shown next to the checkbox
  std::string description;  // optional, shown under it
};

struct TrackingConfig {
  std::string base_url;
  std::string secret;  // empty: to be derived by the caller
  std::vector<std::string> previous_secrets;
  std::string company_name;
  std::vector<Purpose> purposes;
  bool record_client = false;
};

// Checks a config built in code (the loader checks the same): base_url, company_name, purposes
// (ids well-formed and unique, labels present), secrets (≥ 32 bytes when set).
// Errors: kInvalidArgument naming the field (`tracking.purposes[2].id: …`).
Status validate_tracking_config(const TrackingConfig& config);

// nullopt when the file has no `tracking:` section. `file` names the text in messages.
Result<std::optional<TrackingConfig>> parse_tracking_config(const std::string& file, const std::string& text,
                                                            const EnvironmentLookup& env = process_environment);
Result<std::optional<TrackingConfig>> load_tracking_config(const std::string& path,
                                                           const EnvironmentLookup& env = process_environment);

}  // namespace tp::tracking
