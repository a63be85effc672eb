// The HTTP API: Segment-compatible ingestion (/v1/*), the management API (/api/v1/*),
// /healthz and /metrics. Request and response shapes are in docs/http-api.md.
#pragma once

#include "base/clock.h"
#include "base/metrics.h"
#include "http/auth.h"
#include "http/journeys_api.h"
#include "tracking/tracking_handler.h"
#include "http/server.h"
#include "ingest/parser.h"
#include "profiles/writer.h"
#include "storage/store.h"

namespace tp::http {

struct ApiDeps {
  storage::ReaderPool& readers;
  profiles::ProfileWriter& writer;
  KeyCache& keys;
  const Clock& clock;
  MetricsRegistry& metrics;
  ingest::Limits limits;
  JourneyApiDeps journeys{};
  tracking::TrackingHandler* tracking = nullptr;  // /t/… links; null: not configured
};

class Api final : public Handler {
 public:
  explicit Api(ApiDeps deps);
  void handle(Request&& request, Respond respond) override;

 private:
  void ingest(Request& request, std::string_view endpoint, Respond respond);
  void management(Request& request, std::string_view path, std::string_view query, Respond respond);

  ApiDeps d_;
  Counter& events_accepted_;
  Counter& events_rejected_;
  Histogram& request_seconds_;
};

}  // namespace tp::http
