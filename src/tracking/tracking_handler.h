// TrackingHandler: the /t/… endpoints, independent of any HTTP server.
//
//   GET  /t/o/{token}.gif   1×1 transparent GIF; records "Email Opened"
//   GET  /t/c/{token}       302 to the signed URL; records "Email Clicked"
//   GET  /t/u/{token}       unsubscribe confirmation page (records nothing: scanners GET links)
//   POST /t/u/{token}       List-Unsubscribe=One-Click (RFC 8058, urlencoded or multipart, or the
//                           page's form): records "Unsubscribed" + identify {unsubscribed: true},
//                           every purpose false; answers 200 with a small page
//   GET  /t/p/{token}       preference page, one checkbox per configured purpose
//   POST /t/p/{token}       form=preferences&purpose=…&action=save|unsubscribe-all: identify with
//                           context.consent.categoryPreferences; answers 200 with the page again
//   HEAD on any of the GET routes: the same headers, no body, nothing recorded.
//
// A token that does not verify, or is of another kind than its path, answers 404 with a plain
// page (never a redirect). Wrong method: 405 + Allow. Body over 16 KiB: 413. A POST body that is
// not a form: 415; a form without the expected fields: 400.
//
// What a hit records is handed to the MessageSink as Segment messages (JSON text; events.h).
// The answer waits for the sink's `done`: for opens and clicks the pixel / redirect is sent
// whatever `ok` says (the person's click must work); for unsubscribe and preference POSTs
// `ok == false` answers 503 with a "please try again" page, since the choice was not saved.
//
// Threading: handle() may be called from any number of threads at once; the handler holds no
// mutable state. `respond` is called exactly once, on the caller's thread or on the thread that
// calls `done`. The sink and the consent lookup are called on the caller's thread. The Clock
// must outlive the handler; pending sink callbacks do not refer to the handler.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "tracking/config.h"
#include "tracking/links.h"

namespace tp::tracking {

struct TrackingRequest {
  std::string method;  // "GET", "HEAD", "POST", …
  std::string path;    // without the query: "/t/c/TOKEN"
  std::string query;   // after '?'; not used (kept so callers can pass what they have)
  std::string body;
  std::string content_type;    // the Content-Type header, "" when absent
  std::string remote_address;  // optional; context.ip when config.record_client
  std::string user_agent;      // optional; context.userAgent when config.record_client
};

struct TrackingResponse {
  int status = 200;
  std::string content_type;  // "" for none (the redirect)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type
};

// Stores the messages durably and calls done(true), or done(false) when it could not; exactly
// once, from any thread. Messages of one call belong together (an unsubscribe's track and identify).
using MessageSink = std::function<void(std::vector<std::string> messages, std::function<void(bool ok)> done)>;
// The person's current context.consent.categoryPreferences, to pre-tick the preference page;
// nullopt when unknown. Should be quick (called on the request's thread).
using ConsentLookup = std::function<std::optional<std::map<std::string, bool>>(const std::string& user_id)>;
using TrackingRespond = std::function<void(TrackingResponse)>;

inline constexpr size_t kMaxTrackingBodyBytes = 16 * 1024;

class TrackingHandler {
 public:
  // `config` must pass validate_tracking_config and have a secret (derived or configured).
  // Errors: kInvalidArgument naming the field.
  static Result<std::unique_ptr<TrackingHandler>> create(TrackingConfig config, MessageSink sink, const Clock& clock,
                                                         ConsentLookup consent = {});

  // Whether `path` belongs to this handler ("/t/…"); others are the caller's.
  static bool handles(std::string_view path);

  void handle(const TrackingRequest& request, TrackingRespond respond) const;

  // The signer for the sending side (rewrite_html, List-Unsubscribe).
  const LinkSigner& signer() const { return signer_; }
  const TrackingConfig& config() const { return config_; }

 private:
  TrackingHandler(TrackingConfig config, LinkSigner signer, MessageSink sink, ConsentLookup consent, const Clock& clock)
      : config_(std::move(config)),
        signer_(std::move(signer)),
        sink_(std::move(sink)),
        consent_(std::move(consent)),
        clock_(clock) {}

  TrackingResponse page(int status, std::string body) const;
  TrackingResponse error_page(int status, std::string_view title, std::string_view text) const;
  void open(const TrackingRequest& request, const LinkClaims& claims, TrackingRespond respond) const;
  void click(const TrackingRequest& request, const LinkClaims& claims, TrackingRespond respond) const;
  void unsubscribe(const TrackingRequest& request, const LinkClaims& claims, TrackingRespond respond) const;
  void preferences(const TrackingRequest& request, const LinkClaims& claims, TrackingRespond respond) const;
  std::string preferences_href(const LinkClaims& claims) const;

  TrackingConfig config_;
  LinkSigner signer_;
  MessageSink sink_;
  ConsentLookup consent_;
  const Clock& clock_;
};

// The 43-byte 1×1 transparent GIF89a the open pixel answers with.
std::string_view transparent_gif();

}  // namespace tp::tracking
