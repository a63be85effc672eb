// The journey endpoints of the management API (docs/http-api.md): the journey list, per-step
// statistics, the enter call, the salespeople's task list, bounce reports and message previews;
// and the SMS provider's delivery receipts (/hooks/sms, signed by the provider, no admin key).
#pragma once

#include <string_view>

#include "base/clock.h"
#include "channels/sms.h"
#include "http/server.h"
#include "journeys/runner.h"
#include "profiles/writer.h"
#include "storage/journey_store.h"
#include "storage/store.h"
#include "templates/template_set.h"

namespace tp::http {

struct JourneyApiDeps {
  journeys::Runner* runner = nullptr;        // null: serve runs without --journeys
  storage::JourneyStore* store = nullptr;
  const templates::TemplateSet* templates = nullptr;  // the message templates (previews)
  const channels::SmsConfig* sms = nullptr;           // null: SMS is not configured
};

// Answers /api/v1/journeys…, /api/v1/tasks…, /api/v1/bounces and /api/v1/templates/…; false
// when `path` is none of them (nothing answered). The caller has checked the admin key.
bool handle_journey_api(const JourneyApiDeps& d, storage::ReaderPool& readers, profiles::ProfileWriter& writer,
                        const Clock& clock, Request& request, std::string_view path, std::string_view query,
                        const Respond& respond);

// POST /hooks/sms: a delivery receipt from the SMS provider (docs/delivery.md). The request is
// authenticated by the provider's signature, not by a key.
constexpr std::string_view kSmsReceiptPath = "/hooks/sms";
void handle_sms_receipt(const JourneyApiDeps& d, profiles::ProfileWriter& writer, const Clock& clock, Request& request,
                        const Respond& respond);

}  // namespace tp::http
